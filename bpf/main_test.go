package bpf

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// TestMain lets the test binary double as a loader process that a test
// kills with SIGKILL (see startLoaderProcess).
func TestMain(m *testing.M) {
	if os.Getenv("HVDP_LOADER_CHILD") == "1" {
		loaderChild()
		return
	}
	os.Exit(m.Run())
}

// loaderChild loads the datapath under $HVDP_ROOT, attaches it to the
// devices in $HVDP_DEVS of the namespace $HVDP_NETNS, says "ready" and
// waits to be killed.
func loaderChild() {
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	cfg := DefaultConfig
	cfg.BPFRoot = os.Getenv("HVDP_ROOT")
	cfg.CTGlobalTCPMax, cfg.CTGlobalAnyMax = 1<<16, 1<<16
	d, err := Load(cfg, nil)
	if err != nil {
		fail(err)
	}
	ns, err := netns.GetFromName(os.Getenv("HVDP_NETNS"))
	if err != nil {
		fail(err)
	}
	for _, dev := range strings.Split(os.Getenv("HVDP_DEVS"), ",") {
		if err := inNetns(ns, func() error { _, err := d.Attach(dev); return err }); err != nil {
			fail(err)
		}
	}
	fmt.Println("ready")
	select {}
}

// startLoaderProcess runs loaderChild in a new process and returns once it
// has attached.
func startLoaderProcess(tb testing.TB, n *testNode, devs ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(),
		"HVDP_LOADER_CHILD=1",
		"HVDP_ROOT="+n.root,
		"HVDP_NETNS="+n.prefix+"-node",
		"HVDP_DEVS="+strings.Join(devs, ","))
	stdout, err := cmd.StdoutPipe()
	must(tb, err)
	cmd.Stderr = os.Stderr
	must(tb, cmd.Start())
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if s != "ready" {
			tb.Fatalf("loader process: %q", s)
		}
	case <-time.After(10 * time.Second):
		tb.Fatal("loader process not ready within 10s")
	}
	return cmd
}
