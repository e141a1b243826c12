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
// Work proceeds in bounded rounds ([Params].RoundSize changes). Within a
// round deletes are applied before updates. A round's status write-back runs
// on its own goroutine while the next round is applied, and drops the result
// of any object that changed meanwhile. [Reconciler.WaitUntilReconciled]
// returns once every change up to a revision is applied and written back.
//
// Failed objects are retried with exponential backoff without holding back
// the others, and a newer version of an object replaces its pending retry.
// While objects fail, the reconciler's health is degraded with their count
// and first errors; [Metrics] counts operations, errors, round and prune
// durations, objects per second and the revision lag.
//
// In the agent, [Cell] provides the shared flags and metrics and [Register]
// runs a reconciler as a job of the module that owns the table. The
// Operations implementations live in subpackages: [bpfmap] for BPF maps and
// [netlink] for routes, addresses and neighbours.
//
// [bpfmap]: github.com/hivenet/hivenet/reconcilers/bpfmap
// [netlink]: github.com/hivenet/hivenet/reconcilers/netlink
package reconcilers
