package statedb

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

func TestMetrics(t *testing.T) {
	db, table := newTestDB(t)
	wtxn := db.WriteTxn(table)
	it, _ := table.Changes(wtxn)
	table.RegisterInitializer(wtxn, "k8s")
	table.Insert(wtxn, &testObject{ID: 1})
	table.Insert(wtxn, &testObject{ID: 2})
	wtxn.Commit()
	defer it.Close()
	wtxn = db.WriteTxn(table)
	table.Delete(wtxn, &testObject{ID: 1})
	wtxn.Commit()

	want := `
# HELP hivenet_statedb_table_graveyard_objects Deleted objects kept until every change iterator has seen them.
# TYPE hivenet_statedb_table_graveyard_objects gauge
hivenet_statedb_table_graveyard_objects{table="test"} 1
# HELP hivenet_statedb_table_initialized 1 when every initializer of the table is done.
# TYPE hivenet_statedb_table_initialized gauge
hivenet_statedb_table_initialized{table="test"} 0
# HELP hivenet_statedb_table_objects Number of objects in the table.
# TYPE hivenet_statedb_table_objects gauge
hivenet_statedb_table_objects{table="test"} 1
# HELP hivenet_statedb_table_revision Latest revision of the table.
# TYPE hivenet_statedb_table_revision gauge
hivenet_statedb_table_revision{table="test"} 3
`
	if err := testutil.CollectAndCompare(db.Metrics(), strings.NewReader(want),
		"hivenet_statedb_table_graveyard_objects", "hivenet_statedb_table_initialized",
		"hivenet_statedb_table_objects", "hivenet_statedb_table_revision"); err != nil {
		t.Fatal(err)
	}
	// Both write transactions were timed.
	var m dto.Metric
	if err := db.Metrics().txnDuration.WithLabelValues("test").(prometheus.Histogram).Write(&m); err != nil {
		t.Fatal(err)
	}
	if n := m.GetHistogram().GetSampleCount(); n != 2 {
		t.Fatalf("write txn duration samples = %d, want 2", n)
	}
}
