package cilium

import (
	"testing"

	"github.com/cilium/statedb"
)

func newDB(b *testing.B) *statedb.DB {
	db := statedb.New(statedb.WithMetrics(&statedb.NopMetrics{}))
	if err := db.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Stop() })
	return db
}

func newTable(b *testing.B, db *statedb.DB, name string, primary statedb.Indexer[*testObject], secondary ...statedb.Indexer[*testObject]) statedb.RWTable[*testObject] {
	table, err := statedb.NewTable(db, name, primary, secondary...)
	if err != nil {
		b.Fatal(err)
	}
	return table
}

func newTestDB(b *testing.B, secondary ...statedb.Indexer[*testObject]) (*statedb.DB, statedb.RWTable[*testObject]) {
	db := newDB(b)
	return db, newTable(b, db, "test", idIndex, secondary...)
}
