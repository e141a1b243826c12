// Package reconcilers drives a desired-state statedb table into the kernel.
//
// A [Reconciler] follows one table's change stream and, for every object
// that changed, calls [Operations.Update] or [Operations.Delete] (or the
// batched [BatchOperations] when the target supports it). The outcome is
// written back into the object's embedded [Status], so the table itself
// answers "is it in the kernel yet, and if not, why". Periodically, and once
// the table is initialised, [Operations.Prune] removes from the target what
// no object asks for; never before, so a restarting agent does not flush live
// kernel state while its tables are still filling.
//
// Failed objects are retried with exponential backoff without holding back
// the others, and a newer version of an object replaces its pending retry.
//
// The Operations implementations live in subpackages: [bpfmap] for BPF maps
// and [netlink] for routes, addresses and neighbours.
//
// [bpfmap]: github.com/hivenet/hivenet/reconcilers/bpfmap
// [netlink]: github.com/hivenet/hivenet/reconcilers/netlink
package reconcilers
