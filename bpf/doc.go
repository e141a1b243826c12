// Package bpf is hivenet's datapath: the BPF programs that run on every
// endpoint's node-side veth, the maps they share, and the Go side that loads,
// pins, attaches and reads them.
//
// The C sources live next to this file (bpf_lxc.c, lib/*.h); the bindings
// generated from them by bpf2go (lxc_bpfel.go, lxc_bpfel.o) are committed and
// regenerated with `go generate ./bpf/...`.
//
// [Load] loads the programs with the map sizes of a [Config] and pins the
// maps under the agent's bpffs directory (Config.BPFRoot), reusing maps that
// an earlier agent pinned there, so conntrack state and endpoints survive an
// agent restart. [Datapath.Attach] attaches the programs to an endpoint's
// veth with TCX links, pinned so that programs stay attached while the agent
// is down, or with clsact + cls_bpf filters where TCX is unavailable. A new
// [Datapath] adopts the links an earlier one pinned and swaps in its
// programs.
//
// Flow events are read with [Datapath.Flows]; conntrack entries are listed
// with [Datapath.Conntrack] or, from another process, [DumpConntrack].
//
// Services (lib/lb.h) live in Cilium's lb4 maps, written by the services
// cell and listed with [DumpLB]; from-container translates what pods send.
// [LoadHost] loads the programs of the node's external devices
// (bpf_host.c): NodePort, LoadBalancer and external IPs for clients outside
// the node, sharing the maps through their pins.
//
// Errors: [ErrNoBPFFS] when the bpffs cannot be mounted, [ErrNotAttached]
// from Detach of a device the datapath is not attached to, [ErrBadFlow] for a
// flow event record that cannot be decoded, and configuration errors from
// [Config.Validate].
package bpf
