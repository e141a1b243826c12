package reconcilers

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the reconcilers' Prometheus metrics, labelled by table. One
// set serves every reconciler of a process.
type Metrics struct {
	operations *prometheus.CounterVec
	errors     *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	throughput *prometheus.GaugeVec
	lag        *prometheus.GaugeVec
	failing    *prometheus.GaugeVec
}

// NewMetrics returns an unregistered set of metrics; register its
// [Metrics.Collectors].
func NewMetrics() *Metrics {
	const ns, sub = "hivenet", "reconciler"
	return &Metrics{
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "operations_total",
			Help: "Objects applied to the target, by table and operation (update, delete, prune counts prune runs).",
		}, []string{"table", "op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "errors_total",
			Help: "Failed object operations and prune runs, by table and operation.",
		}, []string{"table", "op"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "duration_seconds",
			Help:    "Duration of incremental rounds and prune runs, by table and kind.",
			Buckets: prometheus.ExponentialBuckets(1e-5, 4, 12),
		}, []string{"table", "kind"}),
		throughput: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "objects_per_second",
			Help: "Objects per second applied in the last incremental round, by table.",
		}, []string{"table"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "revision_lag",
			Help: "Table revision minus the revision reconciled so far, by table.",
		}, []string{"table"}),
		failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "failing_objects",
			Help: "Objects waiting for a retry after an error, by table.",
		}, []string{"table"}),
	}
}

// Collectors returns the metrics for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.operations, m.errors, m.duration, m.throughput, m.lag, m.failing}
}

// Describe implements prometheus.Collector: the whole set registers as one.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.Collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.Collectors() {
		c.Collect(ch)
	}
}

// tableMetrics are one table's resolved label values, so the hot path does
// no label lookups.
type tableMetrics struct {
	updates, deletes, prunes                prometheus.Counter
	updateErrors, deleteErrors, pruneErrors prometheus.Counter
	roundDuration, pruneDuration            prometheus.Observer
	throughput, lag, failing                prometheus.Gauge
}

func (m *Metrics) forTable(name string) tableMetrics {
	return tableMetrics{
		updates:       m.operations.WithLabelValues(name, "update"),
		deletes:       m.operations.WithLabelValues(name, "delete"),
		prunes:        m.operations.WithLabelValues(name, "prune"),
		updateErrors:  m.errors.WithLabelValues(name, "update"),
		deleteErrors:  m.errors.WithLabelValues(name, "delete"),
		pruneErrors:   m.errors.WithLabelValues(name, "prune"),
		roundDuration: m.duration.WithLabelValues(name, "incremental"),
		pruneDuration: m.duration.WithLabelValues(name, "prune"),
		throughput:    m.throughput.WithLabelValues(name),
		lag:           m.lag.WithLabelValues(name),
		failing:       m.failing.WithLabelValues(name),
	}
}
