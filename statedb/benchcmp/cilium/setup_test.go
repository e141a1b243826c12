package cilium

import (
	"testing"

	"github.com/cilium/statedb"
)

func newTestDB(b *testing.B, secondary ...statedb.Indexer[*testObject]) (*statedb.DB, statedb.RWTable[*testObject]) {
	db := statedb.New(statedb.WithMetrics(&statedb.NopMetrics{}))
	table, err := statedb.NewTable(db, "test", idIndex, secondary...)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Stop() })
	return db, table
}
