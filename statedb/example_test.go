package statedb_test

import (
	"fmt"

	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

type Backend struct {
	Addr    string
	Service string
}

var (
	backendAddr = statedb.Index[*Backend, string]{
		Name:       "addr",
		FromObject: func(b *Backend) index.KeySet { return index.NewKeySet(index.String(b.Addr)) },
		FromKey:    index.String,
		Unique:     true,
	}
	backendService = statedb.Index[*Backend, string]{
		Name:       "service",
		FromObject: func(b *Backend) index.KeySet { return index.NewKeySet(index.String(b.Service)) },
		FromKey:    index.String,
	}
)

func Example() {
	db := statedb.New()
	backends := statedb.MustNewTable("backends", backendAddr, backendService)
	if err := db.RegisterTable(backends); err != nil {
		panic(err)
	}

	// A consumer registers for changes before the writers start.
	wtxn := db.WriteTxn(backends)
	changes, _ := backends.Changes(wtxn)
	wtxn.Commit()
	defer changes.Close()

	wtxn = db.WriteTxn(backends)
	backends.Insert(wtxn, &Backend{Addr: "10.0.0.1:80", Service: "default/server"})
	backends.Insert(wtxn, &Backend{Addr: "10.0.0.2:80", Service: "default/server"})
	backends.Insert(wtxn, &Backend{Addr: "10.0.0.3:53", Service: "kube-system/dns"})
	wtxn.Commit()

	txn := db.ReadTxn()
	for b := range backends.List(txn, backendService.Query("default/server")) {
		fmt.Println("server backend", b.Addr)
	}

	wtxn = db.WriteTxn(backends)
	backends.Delete(wtxn, &Backend{Addr: "10.0.0.1:80"})
	wtxn.Commit()

	seq, _ := changes.Next(db.ReadTxn())
	for change, rev := range seq {
		fmt.Println(rev, change.Object.Addr, "deleted:", change.Deleted)
	}
	// Output:
	// server backend 10.0.0.1:80
	// server backend 10.0.0.2:80
	// 2 10.0.0.2:80 deleted: false
	// 3 10.0.0.3:53 deleted: false
	// 4 10.0.0.1:80 deleted: true
}
