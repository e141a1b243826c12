package netlink

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	vnl "github.com/vishvananda/netlink"
)

// testNetNS creates a network namespace named hvrc-<suffix>-<pid> with two
// veth links, hvrc0 (10.99.0.1/24) and hvrc1 (10.98.0.1/24), and returns
// a netlink handle in it and a function running `ip -n <ns> args...` and
// returning its output. The
// namespace is deleted when t ends.
func testNetNS(t *testing.T, suffix string) (*vnl.Handle, func(args string) string) {
	t.Helper()
	name := fmt.Sprintf("hvrc-%s-%d", suffix, os.Getpid())
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v: %s (these tests need root and iproute2)", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("delete netns %s: %v: %s", name, err, out)
		}
	})
	ipn := func(args string) string {
		t.Helper()
		return run(append([]string{"-n", name}, strings.Fields(args)...)...)
	}
	for i, addr := range []string{"10.99.0.1/24", "10.98.0.1/24"} {
		// A veth pair with both ends inside: this kernel has no dummy links.
		ipn(fmt.Sprintf("link add hvrc%d type veth peer name hvrc%dp", i, i))
		ipn(fmt.Sprintf("link set hvrc%dp up", i))
		ipn(fmt.Sprintf("link set hvrc%d up", i))
		ipn(fmt.Sprintf("addr add %s dev hvrc%d", addr, i))
	}
	h, err := NewHandle("/var/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h, ipn
}
