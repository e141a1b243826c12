package reconcilers

import (
	"context"
	"errors"
	"time"

	"github.com/hivenet/hivenet/statedb"
)

// maxLoggedErrors bounds the per-object warnings one round logs; health
// and the objects' status carry the rest.
const maxLoggedErrors = 10

// pipelineDepth is how many rounds can be between the reconcile loop and
// the end of their write-back. The loop applies round n+1 to the target
// while round n's status is being written back: on a 2-core machine the
// syscalls and the statedb writes then run side by side.
const pipelineDepth = 3

// round is one incremental round's objects on their way from the change
// stream through the target to the status write-back.
type round[T any] struct {
	read    statedb.ReadTxn // the snapshot the changes came from
	updates []BatchEntry[T]
	revs    []statedb.Revision // of updates
	deletes []BatchEntry[T]
	upTo    statedb.Revision // every change up to here is in this round or earlier
	start   time.Time
}

// incremental runs one bounded round: it applies up to RoundSize changes
// not seen yet and hands them to the write-back. It returns the channel
// that closes when there are more changes (already closed if the round
// stopped at its bound), or nil if ctx ended.
func (r *Reconciler[T]) incremental(ctx context.Context, txn statedb.ReadTxn, changes statedb.ChangeIterator[T]) <-chan struct{} {
	var rd *round[T]
	select {
	case rd = <-r.free:
	case <-ctx.Done():
		return nil
	}
	rd.start = time.Now()
	rd.read = txn
	seq, watch := changes.Next(txn)

	updates, deletes, revs := rd.updates[:0], rd.deletes[:0], rd.revs[:0]
	hasRetries := r.retries.len() > 0
	complete := true
	var last statedb.Revision
	for change, rev := range seq {
		last = rev
		if change.Deleted {
			if hasRetries {
				r.retries.remove(r.key(change.Object))
			}
			deletes = append(deletes, BatchEntry[T]{Object: change.Object})
		} else {
			// Done and error objects are the reconciler's own write-backs
			// (errors are the retry queue's business); writers mark what
			// they change as pending.
			if r.cfg.GetObjectStatus(change.Object).Kind != StatusKindPending {
				continue
			}
			if hasRetries {
				r.retries.remove(r.key(change.Object))
			}
			updates = append(updates, BatchEntry[T]{Object: change.Object})
			revs = append(revs, rev)
		}
		if len(updates)+len(deletes) >= r.params.RoundSize {
			complete = false
			break
		}
	}
	rd.upTo = last
	if complete {
		rd.upTo = r.cfg.Table.Revision(txn)
	}
	rd.updates, rd.deletes, rd.revs = updates, deletes, revs

	// Deletes first: when an object is replaced by another with a
	// different primary key but the same target key (the same BPF map key,
	// the same route), deleting after updating would remove the new one.
	r.apply(ctx, deletes, false)
	r.apply(ctx, updates, true)

	// Even an empty round goes through the write-back: the revision it
	// reached may only be reported once the rounds before it are written.
	r.writeBacks <- rd
	return watch
}

// apply runs the operation on every entry, in one batch if the Operations
// batch, recording each entry's error in Result.
func (r *Reconciler[T]) apply(ctx context.Context, entries []BatchEntry[T], update bool) {
	if len(entries) == 0 {
		return
	}
	ops := r.cfg.Operations
	switch {
	case r.batch != nil && update:
		r.batch.UpdateBatch(ctx, entries)
	case r.batch != nil:
		r.batch.DeleteBatch(ctx, entries)
	case update:
		for i := range entries {
			entries[i].Result = ops.Update(ctx, entries[i].Object)
		}
	default:
		for i := range entries {
			entries[i].Result = ops.Delete(ctx, entries[i].Object)
		}
	}
	ok, failed := r.metrics.updates, r.metrics.updateErrors
	if !update {
		ok, failed = r.metrics.deletes, r.metrics.deleteErrors
	}
	nerr := 0
	for i := range entries {
		if entries[i].Result != nil {
			nerr++
		}
	}
	ok.Add(float64(len(entries) - nerr))
	if nerr > 0 {
		failed.Add(float64(nerr))
	}
}

// ownCommit is one of the write-back's own commits: the table went from
// revision from to revision to, by status writes only.
type ownCommit struct{ from, to statedb.Revision }

// writeBackLoop writes back the rounds the reconcile loop hands it, in
// order, until the channel is closed.
func (r *Reconciler[T]) writeBackLoop() {
	var own [pipelineDepth + 1]ownCommit
	for rd := range r.writeBacks {
		if len(rd.updates)+len(rd.deletes) > 0 {
			c := r.writeBack(rd, own[:])
			copy(own[:], own[1:])
			own[len(own)-1] = c
			n := len(rd.updates) + len(rd.deletes)
			d := time.Since(rd.start)
			r.metrics.roundDuration.Observe(d.Seconds())
			r.metrics.throughput.Set(float64(n) / d.Seconds())
		}
		r.setProcessed(rd.upTo)
		r.metrics.lag.Set(float64(r.cfg.Table.Revision(r.cfg.DB.ReadTxn()) - r.processedRevision()))
		// Keep the slices, but not references to the objects.
		clear(rd.updates)
		clear(rd.deletes)
		rd.updates, rd.deletes, rd.revs, rd.read = rd.updates[:0], rd.deletes[:0], rd.revs[:0], nil
		r.free <- rd
	}
}

// writeBack records the outcome of a round: done or error into the status
// of each updated object, in one write transaction, and failures into the
// retry queue. An object that changed since it was read keeps its newer
// version, whose own round will write its status; this result is dropped.
//
// If the table changed since the round's snapshot only by the write-back's
// own recent commits (listed in own, oldest first), every object is still
// the version the round applied, and a plain Insert does what
// CompareAndSwap would, one lookup cheaper.
func (r *Reconciler[T]) writeBack(rd *round[T], own []ownCommit) ownCommit {
	now := time.Now()
	logged := 0
	logFailure := func(obj T, deleted bool, err error) {
		if logged < maxLoggedErrors {
			r.log.Warn("Failed to reconcile object; will retry", "object", obj, "deleted", deleted, "error", err)
		}
		logged++
	}

	var c ownCommit
	if len(rd.updates) > 0 {
		table := r.cfg.Table
		done := Status{Kind: StatusKindDone, UpdatedAt: now}
		wtxn := r.cfg.DB.WriteTxn(table)
		c.from = table.Revision(wtxn)
		rev := table.Revision(rd.read)
		for _, oc := range own {
			if oc.from == rev {
				rev = oc.to
			}
		}
		unchanged := rev == c.from
		for i := range rd.updates {
			e := &rd.updates[i]
			st := done
			if e.Result != nil {
				st = Status{Kind: StatusKindError, UpdatedAt: now, Error: e.Result.Error()}
			}
			obj := r.cfg.SetObjectStatus(e.Object, st)
			var err error
			if unchanged {
				_, _, err = table.Insert(wtxn, obj)
			} else {
				_, _, err = table.CompareAndSwap(wtxn, rd.revs[i], obj)
			}
			if err != nil {
				r.droppedWriteBack(e.Object, err)
				continue
			}
			if e.Result != nil {
				r.retries.add(r.key(e.Object), e.Object, r.query(e.Object), false, e.Result, now)
				logFailure(e.Object, false, e.Result)
			}
		}
		c.to = table.Revision(wtxn.Commit())
	}
	for i := range rd.deletes {
		if e := &rd.deletes[i]; e.Result != nil {
			r.retries.add(r.key(e.Object), e.Object, r.query(e.Object), true, e.Result, now)
			logFailure(e.Object, true, e.Result)
		}
	}
	if logged > maxLoggedErrors {
		r.log.Warn("More objects failed to reconcile this round", "count", logged-maxLoggedErrors)
	}
	return c
}

// droppedWriteBack handles a status write that statedb refused. An object
// that changed or went away meanwhile is expected (its newer version or its
// delete is a change of its own); anything else is a bug in the table or
// the status accessors, and is logged.
func (r *Reconciler[T]) droppedWriteBack(obj T, err error) {
	if errors.Is(err, statedb.ErrRevisionNotEqual) || errors.Is(err, statedb.ErrObjectNotFound) {
		return
	}
	r.log.Error("Cannot write reconciliation status back", "object", obj, "error", err)
}

func (r *Reconciler[T]) key(obj T) string {
	return string(r.cfg.Table.PrimaryIndexer().ObjectToKey(obj))
}

func (r *Reconciler[T]) query(obj T) statedb.Query[T] {
	return r.cfg.Table.PrimaryIndexer().QueryFromObject(obj)
}
