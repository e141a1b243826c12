package cluster

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
)

// sh runs a command and returns its combined output, with the command in
// the error.
func sh(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// network is the box's L2 segment: a bridge in the host namespace.
type network struct {
	bridge  string
	subnet  netip.Prefix // /24
	gateway netip.Addr   // the bridge's address: API server, DNS, default route
}

func (n *network) addr(host byte) netip.Addr {
	a := n.subnet.Addr().As4()
	a[3] = host
	return netip.AddrFrom4(a)
}

func (n *network) create() error {
	if _, err := sh("ip", "link", "add", n.bridge, "type", "bridge"); err != nil {
		return err
	}
	if _, err := sh("ip", "addr", "add", n.gateway.String()+"/24", "dev", n.bridge); err != nil {
		return err
	}
	_, err := sh("ip", "link", "set", n.bridge, "up")
	return err
}

func (n *network) destroy() {
	_, _ = sh("ip", "link", "del", n.bridge)
}

// addHost creates network namespace ns joined to the bridge through a veth
// (host side hostIf, namespace side eth0) with address ip and a default route
// through the bridge.
func (n *network) addHost(ns, hostIf string, ip netip.Addr) error {
	steps := [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
		{"ip", "link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"ip", "link", "set", hostIf, "master", n.bridge},
		{"ip", "link", "set", hostIf, "up"},
		{"ip", "-n", ns, "addr", "add", ip.String() + "/24", "dev", "eth0"},
		{"ip", "-n", ns, "link", "set", "eth0", "up"},
		{"ip", "-n", ns, "route", "add", "default", "via", n.gateway.String()},
	}
	for _, s := range steps {
		if _, err := sh(s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

func removeNetns(ns string) {
	_, _ = sh("ip", "netns", "del", ns)
	_ = os.RemoveAll("/etc/netns/" + ns)
}
