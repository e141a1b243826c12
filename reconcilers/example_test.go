package reconcilers_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cilium/ebpf"

	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/reconcilers/bpfmap"
	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

// Backend is a desired-state object: a backend's weight, to be found by
// the datapath in a BPF hash map under the backend's ID.
type Backend struct {
	ID     uint32
	Weight uint16
	Status reconcilers.Status
}

var backendID = statedb.Index[*Backend, uint32]{
	Name:       "id",
	FromObject: func(b *Backend) index.KeySet { return index.NewKeySet(index.Uint32(b.ID)) },
	FromKey:    index.Uint32,
	Unique:     true,
}

// backendValue is the map value as the datapath's C struct lays it out,
// padding spelled out.
type backendValue struct {
	Weight uint16
	_      [2]byte
}

// Example reconciles a table of backends into a BPF hash map (needs root).
func Example() {
	db := statedb.New()
	backends := statedb.MustNewTable("backends", backendID)
	if err := db.RegisterTable(backends); err != nil {
		panic(err)
	}

	// Unpinned here; an agent pins under its bpffs directory.
	m, err := bpfmap.New[uint32, backendValue](bpfmap.Spec{Name: "hvrc_example", Type: ebpf.Hash, MaxEntries: 1024}, nil)
	if err != nil {
		panic(err)
	}
	if err := m.Open(); err != nil {
		panic(err)
	}
	defer m.Close()

	r, err := reconcilers.New(reconcilers.Config[*Backend]{
		DB:    db,
		Table: backends,
		Operations: bpfmap.NewOps(m,
			func(b *Backend) uint32 { return b.ID },
			func(b *Backend) backendValue { return backendValue{Weight: b.Weight} }),
		GetObjectStatus: func(b *Backend) reconcilers.Status { return b.Status },
		SetObjectStatus: func(b *Backend, s reconcilers.Status) *Backend {
			c := *b
			c.Status = s
			return &c
		},
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, nil) }()
	// Stop the reconciler before the map it writes to is closed.
	defer func() {
		cancel()
		<-done
	}()

	// A feature cell writes desired state, pending.
	wtxn := db.WriteTxn(backends)
	backends.Insert(wtxn, &Backend{ID: 1, Weight: 100, Status: reconcilers.StatusPending()})
	backends.Insert(wtxn, &Backend{ID: 2, Weight: 50, Status: reconcilers.StatusPending()})
	rev := backends.Revision(wtxn.Commit())

	if _, err := r.WaitUntilReconciled(ctx, rev); err != nil {
		panic(err)
	}
	for b := range backends.All(db.ReadTxn()) {
		v, _ := m.Lookup(b.ID)
		fmt.Printf("backend %d: %s, weight in map %d\n", b.ID, b.Status.Kind, v.Weight)
	}
	// Output:
	// backend 1: done, weight in map 100
	// backend 2: done, weight in map 50
}
