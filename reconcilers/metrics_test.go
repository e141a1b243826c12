package reconcilers_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hivenet/hivenet/reconcilers"
)

// metricValue returns the value of the metric family name with the given
// label values, or -1 if it is absent.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			return value(m)
		}
	}
	return -1
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

func TestMetrics(t *testing.T) {
	metrics := reconcilers.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.Collectors()...)

	ops := &memOps{m: map[uint32]uint64{}} // refuses object 5
	db, table := newTable(t)
	r := start(t, reconcilers.Config[*testObj]{
		DB: db, Table: table, Operations: ops,
		GetObjectStatus: getStatus, SetObjectStatus: setStatus,
		Metrics: metrics,
	}, nil)
	var objs []*testObj
	for i := range uint32(10) {
		objs = append(objs, newObj(i, 1))
	}
	waitReconciled(t, r, insert(t, db, table, objs...))
	waitReconciled(t, r, remove(t, db, table, objs[0], objs[1]))

	tbl := map[string]string{"table": "test-objects"}
	with := func(k, v string) map[string]string { return map[string]string{"table": "test-objects", k: v} }
	if v := metricValue(t, reg, "hivenet_reconciler_operations_total", with("op", "update")); v != 9 {
		t.Errorf("updates = %v, want 9", v)
	}
	if v := metricValue(t, reg, "hivenet_reconciler_operations_total", with("op", "delete")); v != 2 {
		t.Errorf("deletes = %v, want 2", v)
	}
	if v := metricValue(t, reg, "hivenet_reconciler_errors_total", with("op", "update")); v < 1 {
		t.Errorf("update errors = %v, want at least 1", v)
	}
	if v := metricValue(t, reg, "hivenet_reconciler_duration_seconds", with("kind", "incremental")); v < 2 {
		t.Errorf("incremental rounds observed = %v, want at least 2", v)
	}
	if v := metricValue(t, reg, "hivenet_reconciler_objects_per_second", tbl); v <= 0 {
		t.Errorf("objects per second = %v, want > 0", v)
	}
	eventually(t, "prune counted", func() bool {
		return metricValue(t, reg, "hivenet_reconciler_operations_total", with("op", "prune")) >= 1
	})
	eventually(t, "one failing object", func() bool {
		return metricValue(t, reg, "hivenet_reconciler_failing_objects", tbl) == 1
	})
	eventually(t, "no lag", func() bool {
		return metricValue(t, reg, "hivenet_reconciler_revision_lag", tbl) == 0
	})
}
