// Package bpfmap gives typed access to pinned BPF maps and reconciles
// desired-state objects into them.
//
// [Map] is a BPF map with a fixed-size key type K and value type V, pinned
// under a bpffs directory. Opening it adopts a map already pinned there with
// the same layout (so a restarted agent keeps the datapath's state) and
// recreates one whose layout changed, logging and counting the change.
// Batch updates and deletes use the kernel's batch syscalls and fall back to
// per-key calls where the kernel or map type does not support them, or for
// the one entry the kernel rejected.
//
// [Ops] implements reconcilers.Operations and reconcilers.BatchOperations
// over a Map, given functions that turn an object into its key and value.
//
// Sentinel errors: [ErrNotBPFFS], [ErrLayout].
package bpfmap
