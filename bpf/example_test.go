package bpf_test

import (
	"fmt"
	"log/slog"

	"github.com/hivenet/hivenet/bpf"
)

// An agent loads the datapath at start, attaches it to each endpoint's
// veth, and reads flow events; it runs in the node's network namespace.
// (Not run: it needs root and an lxc device.)
func ExampleLoad() {
	cfg := bpf.DefaultConfig
	cfg.BPFRoot = "/sys/fs/bpf/hivenet-node1"
	d, err := bpf.Load(cfg, slog.Default())
	if err != nil {
		panic(err)
	}
	// Close keeps everything pinned and attached for the next agent.
	defer d.Close()

	if _, err := d.Attach("lxc1234"); err != nil {
		panic(err)
	}
	flows, err := d.Flows()
	if err != nil {
		panic(err)
	}
	defer flows.Close()
	for f, err := range flows.All() {
		if err != nil {
			continue
		}
		fmt.Println(f)
	}
}

// The CLI lists conntrack entries from the pinned maps of a running agent.
func ExampleDumpConntrack() {
	recs, err := bpf.DumpConntrack("/sys/fs/bpf/hivenet-node1")
	if err != nil {
		panic(err)
	}
	for _, r := range recs {
		fmt.Println(r)
	}
}
