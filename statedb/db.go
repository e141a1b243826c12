package statedb

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hivenet/hivenet/statedb/art"
)

// DB is a set of tables with transactions across them. The zero value is
// not usable; use [New].
type DB struct {
	// mu serialises table registration and the swap of the root at
	// commit. Writers to different tables only meet here, briefly.
	mu   sync.Mutex
	root atomic.Pointer[readTxn]

	metrics *Metrics

	// gcKick wakes the graveyard collector after a commit left tombstones
	// or a change iterator was closed.
	gcKick     chan struct{}
	gcInterval time.Duration

	stopGC context.CancelFunc
	gcDone chan struct{}
}

// Option configures a DB.
type Option func(*DB)

// WithGCInterval sets the minimum time between two graveyard collections
// (default 100ms). Collection runs only after deletes were tracked.
func WithGCInterval(d time.Duration) Option {
	return func(db *DB) { db.gcInterval = d }
}

// New returns an empty database. Graveyard collection (freeing the
// tombstones of deletes every change iterator has seen) runs while the DB is
// started, with [DB.Start] or as a job of [Cell].
func New(opts ...Option) *DB {
	db := &DB{
		gcKick:     make(chan struct{}, 1),
		gcInterval: 100 * time.Millisecond,
	}
	db.metrics = newMetrics(db)
	for _, o := range opts {
		o(db)
	}
	db.root.Store(&readTxn{})
	return db
}

// RegisterTable adds tables to the database. Tables can be registered at
// any time; transactions begun earlier see them as empty.
//
// Returns [ErrDuplicateTable] if a table of the same name exists, or
// [ErrTableNotRegistered] wrapped if the table belongs to another DB.
func (db *DB) RegisterTable(tables ...TableMeta) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	cur := db.root.Load()
	entries := slices.Clone(cur.entries)
	for _, t := range tables {
		b := t.base()
		for _, e := range entries {
			if e.meta.name == b.name {
				return fmt.Errorf("table %q: %w", b.name, ErrDuplicateTable)
			}
		}
		if b.db.Load() != nil {
			return fmt.Errorf("table %q is registered with another DB: %w", b.name, ErrDuplicateTable)
		}
		b.txnDuration = db.metrics.txnDuration.WithLabelValues(b.name)
		b.pos.Store(int32(len(entries)))
		b.db.Store(db)
		entries = append(entries, b.newEntry())
	}
	db.root.Store(&readTxn{entries: entries})
	return nil
}

// ReadTxn returns a snapshot of every table. It takes no lock and does not
// allocate.
func (db *DB) ReadTxn() ReadTxn { return db.root.Load() }

// WriteTxn locks the given tables for writing and returns a transaction
// over them. Tables are locked in registration order, so transactions over
// overlapping sets of tables cannot deadlock. It panics if a table is not
// registered with this DB: that is a wiring bug, not a runtime condition.
func (db *DB) WriteTxn(tables ...TableMeta) WriteTxn {
	txn := &writeTxn{db: db, start: time.Now()}
	if len(tables) <= len(txn.inline) {
		txn.states = txn.inline[:len(tables)]
	} else {
		txn.states = make([]tableState, len(tables))
	}
	for i, t := range tables {
		b := t.base()
		if b.db.Load() != db {
			panic(fmt.Sprintf("statedb: WriteTxn: table %q: %s", b.name, ErrTableNotRegistered))
		}
		txn.states[i].base = b
	}
	// Insertion sort: the table count is small and sort.Slice allocates.
	for i := 1; i < len(txn.states); i++ {
		for j := i; j > 0 && txn.states[j].base.position() < txn.states[j-1].base.position(); j-- {
			txn.states[j], txn.states[j-1] = txn.states[j-1], txn.states[j]
		}
	}
	for i := range txn.states {
		if i > 0 && txn.states[i].base == txn.states[i-1].base {
			panic(fmt.Sprintf("statedb: WriteTxn: table %q named twice", txn.states[i].base.name))
		}
		txn.states[i].base.mu.Lock()
	}
	// Only after locking: a commit between loading the root and locking
	// would otherwise be lost.
	txn.snapshot = db.root.Load()
	for i := range txn.states {
		txn.states[i].entry = *txn.snapshot.entries[txn.states[i].base.position()]
	}
	return txn
}

// Tables returns the tables registered in the snapshot, in registration order.
func (db *DB) Tables(txn ReadTxn) []TableMeta {
	rt := snapshotOf(txn)
	out := make([]TableMeta, 0, len(rt.entries))
	for _, e := range rt.entries {
		out = append(out, e.meta.meta)
	}
	return out
}

// Table returns the registered table with the given name, or nil.
func (db *DB) Table(txn ReadTxn, name string) TableMeta {
	for _, e := range snapshotOf(txn).entries {
		if e.meta.name == name {
			return e.meta.meta
		}
	}
	return nil
}

// readTxn is an immutable root: one entry per registered table, indexed by
// the table's registration position.
type readTxn struct {
	entries []*tableEntry
}

func (r *readTxn) entry(b *tableBase) *tableEntry {
	if pos := b.position(); pos >= 0 && pos < len(r.entries) && r.entries[pos].meta == b {
		return r.entries[pos]
	}
	return b.empty
}

func (b *tableBase) position() int { return int(b.pos.Load()) }

func snapshotOf(txn ReadTxn) *readTxn {
	switch t := txn.(type) {
	case *readTxn:
		return t
	case *writeTxn:
		return t.snapshot
	}
	panic("statedb: unknown ReadTxn implementation")
}

// Index positions in tableEntry.indexes (the art trees). The internal
// index comes first so user index positions are stable offsets. The two
// revision indexes are revTrees of their own (tableEntry.revs, .graveRevs).
const (
	graveyardIndexPos      = 0 // primary key -> tombstone
	primaryIndexPos        = 1
	secondaryIndexStartPos = 2
)

// tableEntry is one table's state in one root. Committed entries are
// immutable; a write transaction works on a copy.
type tableEntry struct {
	meta    *tableBase
	indexes []art.Tree[*object]
	// revs maps revision -> live object, graveRevs revision -> tombstone.
	revs, graveRevs revTree
	revision        Revision
	numObjects      int
	numDeleted      int
	// watch is closed when a commit changes the table's contents.
	watch chan struct{}
	// init is nil once every initializer is done.
	init *tableInit

	// txns holds the open tree transactions of a write transaction,
	// parallel to indexes; nil in committed entries.
	txns []*art.Txn[*object]
}

type tableInit struct {
	pending []string
	watch   chan struct{}
}

// get looks key up in index pos, including uncommitted writes.
func (e *tableEntry) get(pos int, key []byte) (*object, bool) {
	if e.txns != nil {
		if tx := e.txns[pos]; tx != nil {
			return tx.Get(key)
		}
	}
	return e.indexes[pos].Get(key)
}

// getWatch is get with the watch channel of the key.
func (e *tableEntry) getWatch(pos int, key []byte) (*object, bool, <-chan struct{}) {
	if e.txns != nil {
		if tx := e.txns[pos]; tx != nil {
			return tx.GetWatch(key)
		}
	}
	return e.indexes[pos].GetWatch(key)
}

// iterTree returns index pos as a tree that later writes in the same
// transaction will not change, so it can be iterated while the caller
// keeps writing.
func (e *tableEntry) iterTree(pos int) art.Tree[*object] {
	if e.txns != nil {
		if tx := e.txns[pos]; tx != nil {
			return tx.Freeze()
		}
	}
	return e.indexes[pos]
}
