package hivenet

//go:generate sh -c "sed -e 's#github.com/hivenet/hivenet/statedb#github.com/cilium/statedb#' -e 's#^package hivenet#package cilium#' -e 's#^// Source of truth.*#// Code generated from ../hivenet/workloads_test.go by go generate; DO NOT EDIT.#' workloads_test.go > ../cilium/workloads_test.go"

import (
	"testing"

	"github.com/hivenet/hivenet/statedb"
)

func newDB(b *testing.B) *statedb.DB {
	db := statedb.New()
	if err := db.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Stop() })
	return db
}

func newTable(b *testing.B, db *statedb.DB, name string, primary statedb.Indexer[*testObject], secondary ...statedb.Indexer[*testObject]) statedb.RWTable[*testObject] {
	table, err := statedb.NewTable(name, primary, secondary...)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.RegisterTable(table); err != nil {
		b.Fatal(err)
	}
	return table
}

func newTestDB(b *testing.B, secondary ...statedb.Indexer[*testObject]) (*statedb.DB, statedb.RWTable[*testObject]) {
	db := newDB(b)
	return db, newTable(b, db, "test", idIndex, secondary...)
}
