package statedb

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the DB's Prometheus collectors, per table:
//
//	hivenet_statedb_table_objects{table}            objects in the table
//	hivenet_statedb_table_revision{table}           the table's revision
//	hivenet_statedb_table_graveyard_objects{table}  tombstones kept for change iterators
//	hivenet_statedb_table_initialized{table}        1 once every initializer is done
//	hivenet_statedb_write_txn_duration_seconds{table}  lock-to-commit time of write transactions
//	hivenet_statedb_graveyard_gc_duration_seconds{table} time of a graveyard collection
//
// The gauges are read from a snapshot at scrape time, so they cost nothing
// on the write path. Register it with a prometheus.Registerer.
type Metrics struct {
	db          *DB
	txnDuration *prometheus.HistogramVec
	gcDuration  *prometheus.HistogramVec

	objects, revision, graveyard, initialized *prometheus.Desc
}

// Metrics returns the DB's collectors.
func (db *DB) Metrics() *Metrics { return db.metrics }

func newMetrics(db *DB) *Metrics {
	const ns, sub = "hivenet", "statedb"
	labels := []string{"table"}
	return &Metrics{
		db: db,
		txnDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "write_txn_duration_seconds",
			Help:    "Time from locking a table for writing to committing or aborting.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12),
		}, labels),
		gcDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "graveyard_gc_duration_seconds",
			Help:    "Time to remove the tombstones every change iterator has seen.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12),
		}, labels),
		objects: prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "table_objects"),
			"Number of objects in the table.", labels, nil),
		revision: prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "table_revision"),
			"Latest revision of the table.", labels, nil),
		graveyard: prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "table_graveyard_objects"),
			"Deleted objects kept until every change iterator has seen them.", labels, nil),
		initialized: prometheus.NewDesc(prometheus.BuildFQName(ns, sub, "table_initialized"),
			"1 when every initializer of the table is done.", labels, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.objects
	ch <- m.revision
	ch <- m.graveyard
	ch <- m.initialized
	m.txnDuration.Describe(ch)
	m.gcDuration.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, e := range m.db.root.Load().entries {
		name := e.meta.name
		ch <- prometheus.MustNewConstMetric(m.objects, prometheus.GaugeValue, float64(e.numObjects), name)
		ch <- prometheus.MustNewConstMetric(m.revision, prometheus.GaugeValue, float64(e.revision), name)
		ch <- prometheus.MustNewConstMetric(m.graveyard, prometheus.GaugeValue, float64(e.numDeleted), name)
		init := 0.0
		if e.init == nil || len(e.init.pending) == 0 {
			init = 1
		}
		ch <- prometheus.MustNewConstMetric(m.initialized, prometheus.GaugeValue, init, name)
	}
	m.txnDuration.Collect(ch)
	m.gcDuration.Collect(ch)
}

var _ prometheus.Collector = (*Metrics)(nil)
