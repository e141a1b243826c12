package reconcilers

import (
	"context"
	"time"
)

// prune runs Operations.Prune with every object of the table. The caller
// only calls it once the table is initialised.
func (r *Reconciler[T]) prune(ctx context.Context) error {
	start := time.Now()
	txn := r.cfg.DB.ReadTxn()
	all := r.cfg.Table.All(txn)
	err := r.cfg.Operations.Prune(ctx, func(yield func(T) bool) {
		for obj := range all {
			if !yield(obj) {
				return
			}
		}
	})
	r.metrics.pruneDuration.Observe(time.Since(start).Seconds())
	r.metrics.prunes.Inc()
	if err != nil {
		r.metrics.pruneErrors.Inc()
		r.log.Warn("Prune failed; will retry", "error", err)
	}
	return err
}
