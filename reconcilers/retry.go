package reconcilers

import (
	"context"
	"time"
)

// processRetries attempts the retries that are due, at most RoundSize of
// them. Each acts on the table's current version of the object: if the
// object changed (it is pending again) or went away, the change stream
// handles it and the retry is dropped.
func (r *Reconciler[T]) processRetries(ctx context.Context) {
	now := time.Now()
	if at, ok := r.retries.next(); !ok || at.After(now) {
		return
	}
	db, table, ops := r.cfg.DB, r.cfg.Table, r.cfg.Operations
	txn := db.ReadTxn()

	type result struct {
		item *retryItem[T]
		obj  T
		rev  uint64
		err  error
	}
	var results []result
	for range r.params.RoundSize {
		it, ok := r.retries.popDue(now)
		if !ok {
			break
		}
		if it.deleted {
			if _, _, found := table.Get(txn, it.query); found {
				continue // re-inserted; the insert is a change of its own
			}
			if err := ops.Delete(ctx, it.obj); err != nil {
				r.metrics.deleteErrors.Inc()
				r.retries.reAdd(it, err, now)
			} else {
				r.metrics.deletes.Inc()
			}
			continue
		}
		obj, rev, found := table.Get(txn, it.query)
		if !found || r.cfg.GetObjectStatus(obj).Kind != StatusKindError {
			continue
		}
		err := ops.Update(ctx, obj)
		if err != nil {
			r.metrics.updateErrors.Inc()
		} else {
			r.metrics.updates.Inc()
		}
		results = append(results, result{it, obj, rev, err})
	}
	if len(results) == 0 {
		return
	}
	wtxn := db.WriteTxn(table)
	for _, res := range results {
		st := Status{Kind: StatusKindDone, UpdatedAt: now}
		if res.err != nil {
			st = Status{Kind: StatusKindError, UpdatedAt: now, Error: res.err.Error()}
		}
		if _, _, err := table.CompareAndSwap(wtxn, res.rev, r.cfg.SetObjectStatus(res.obj, st)); err != nil {
			r.droppedWriteBack(res.obj, err)
			continue
		}
		if res.err != nil {
			r.retries.reAdd(res.item, res.err, now)
		}
	}
	wtxn.Commit()
}
