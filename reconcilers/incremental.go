package reconcilers

import (
	"context"
	"time"

	"github.com/hivenet/hivenet/statedb"
)

// maxLoggedErrors bounds the per-object warnings one round logs; health
// and the objects' status carry the rest.
const maxLoggedErrors = 10

// incremental runs one bounded round: it applies up to RoundSize changes
// not seen yet, writes their outcome back and returns the channel that
// closes when there are more changes (already closed if the round stopped
// at its bound).
func (r *Reconciler[T]) incremental(ctx context.Context, txn statedb.ReadTxn, changes statedb.ChangeIterator[T]) <-chan struct{} {
	start := time.Now()
	seq, watch := changes.Next(txn)

	updates, deletes, revs := r.updates[:0], r.deletes[:0], r.updateRevs[:0]
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
	upTo := last
	if complete {
		upTo = r.cfg.Table.Revision(txn)
	}
	if len(updates)+len(deletes) == 0 {
		r.setProcessed(upTo)
		return watch
	}

	// Deletes first: when an object is replaced by another with a
	// different primary key but the same target key (the same BPF map key,
	// the same route), deleting after updating would remove the new one.
	r.apply(ctx, deletes, false)
	r.apply(ctx, updates, true)
	r.writeBack(txn, updates, revs, deletes)

	n := len(updates) + len(deletes)
	d := time.Since(start)
	r.metrics.roundDuration.Observe(d.Seconds())
	r.metrics.throughput.Set(float64(n) / d.Seconds())

	// Keep the scratch slices, but not references to the objects.
	clear(updates)
	clear(deletes)
	r.updates, r.deletes, r.updateRevs = updates[:0], deletes[:0], revs[:0]
	r.setProcessed(upTo)
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

// writeBack records the outcome of a round: done or error into the status
// of each updated object, in one write transaction, and failures into the
// retry queue. An object that changed since it was read keeps its newer
// version, whose own round will write its status; this result is dropped.
//
// read is the snapshot the round's changes came from. If no one else wrote
// the table since, every object is still the version the round applied and
// a plain Insert does what CompareAndSwap would, one lookup cheaper.
func (r *Reconciler[T]) writeBack(read statedb.ReadTxn, updates []BatchEntry[T], revs []statedb.Revision, deletes []BatchEntry[T]) {
	now := time.Now()
	logged := 0
	logFailure := func(obj T, deleted bool, err error) {
		if logged < maxLoggedErrors {
			r.log.Warn("Failed to reconcile object; will retry", "object", obj, "deleted", deleted, "error", err)
		}
		logged++
	}

	if len(updates) > 0 {
		table := r.cfg.Table
		done := Status{Kind: StatusKindDone, UpdatedAt: now}
		wtxn := r.cfg.DB.WriteTxn(table)
		unchanged := table.Revision(wtxn) == table.Revision(read)
		for i := range updates {
			e := &updates[i]
			st := done
			if e.Result != nil {
				st = Status{Kind: StatusKindError, UpdatedAt: now, Error: e.Result.Error()}
			}
			obj := r.cfg.SetObjectStatus(e.Object, st)
			var err error
			if unchanged {
				_, _, err = table.Insert(wtxn, obj)
			} else {
				_, _, err = table.CompareAndSwap(wtxn, revs[i], obj)
			}
			if err != nil {
				continue
			}
			if e.Result != nil {
				r.retries.add(r.key(e.Object), e.Object, r.query(e.Object), false, e.Result, now)
				logFailure(e.Object, false, e.Result)
			}
		}
		wtxn.Commit()
	}
	for i := range deletes {
		if e := &deletes[i]; e.Result != nil {
			r.retries.add(r.key(e.Object), e.Object, r.query(e.Object), true, e.Result, now)
			logFailure(e.Object, true, e.Result)
		}
	}
	if logged > maxLoggedErrors {
		r.log.Warn("More objects failed to reconcile this round", "count", logged-maxLoggedErrors)
	}
}

func (r *Reconciler[T]) key(obj T) string {
	return string(r.cfg.Table.PrimaryIndexer().ObjectToKey(obj))
}

func (r *Reconciler[T]) query(obj T) statedb.Query[T] {
	return r.cfg.Table.PrimaryIndexer().QueryFromObject(obj)
}
