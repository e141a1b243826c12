package reconcilers

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hivenet/hivenet/cells/cell"
)

// Cell provides what every reconciler of the process shares: the [Params]
// (agent flags --reconciler-prune-interval, --reconciler-retry-backoff-min,
// --reconciler-retry-backoff-max, --reconciler-round-size) and the
// [Metrics], which also go into the `group:"prometheus-collectors"` value
// group for the process's metrics endpoint. Feature modules then start
// their reconcilers with [Register].
var Cell = cell.Module("reconcilers", "Generic reconcilers of desired-state tables into BPF maps and the kernel",
	cell.Config(DefaultParams),
	cell.Provide(newMetricsOut),
)

type metricsOut struct {
	cell.Out
	Metrics   *Metrics
	Collector prometheus.Collector `group:"prometheus-collectors"`
}

func newMetricsOut() metricsOut {
	m := NewMetrics()
	return metricsOut{Metrics: m, Collector: m}
}

// Validate rejects flag values the reconciler cannot run with.
func (p Params) Validate() error {
	if err := p.withDefaults().validate(); err != nil {
		return fmt.Errorf("reconciler flags: %w", err)
	}
	return nil
}

// or fills p's zero fields from q.
func (p Params) or(q Params) Params {
	if p.PruneInterval == 0 {
		p.PruneInterval = q.PruneInterval
	}
	if p.RetryBackoffMin == 0 {
		p.RetryBackoffMin = q.RetryBackoffMin
	}
	if p.RetryBackoffMax == 0 {
		p.RetryBackoffMax = q.RetryBackoffMax
	}
	if p.RoundSize == 0 {
		p.RoundSize = q.RoundSize
	}
	return p
}

// RegisterParams are what [Register] takes from the hive, in the module
// that owns the table.
type RegisterParams struct {
	cell.In

	Jobs    cell.Jobs
	Params  Params
	Metrics *Metrics
	Log     *slog.Logger
}

// Register creates a reconciler for cfg and adds it as a job of the calling
// module, so it starts and stops with the hive and reports health as
// "job-reconcile-<table>". Fields of Params, and Metrics and Log, left zero
// in cfg come from the hive. Call it from the feature module's Invoke:
//
//	cell.Invoke(func(p reconcilers.RegisterParams, db *statedb.DB, t statedb.RWTable[*Route], h *netlink.Handle) error {
//		_, err := reconcilers.Register(p, reconcilers.Config[*Route]{DB: db, Table: t, ...})
//		return err
//	})
func Register[T any](p RegisterParams, cfg Config[T]) (*Reconciler[T], error) {
	cfg.Params = cfg.Params.or(p.Params)
	if cfg.Metrics == nil {
		cfg.Metrics = p.Metrics
	}
	if cfg.Log == nil {
		cfg.Log = p.Log
	}
	r, err := New(cfg)
	if err != nil {
		return nil, err
	}
	p.Jobs.Add(cell.OneShot("reconcile-"+cfg.Table.Name(), func(ctx context.Context, h cell.Health) error {
		return r.Run(ctx, h)
	}))
	return r, nil
}
