package statedb

import (
	"encoding/binary"
	"iter"
	"math"
	"runtime"
	"sync/atomic"

	iradix "github.com/hashicorp/go-immutable-radix"
)

// deleteTracker is a change iterator's claim on a table's tombstones: the
// graveyard keeps every tombstone newer than the lowest seen revision of
// the open trackers.
type deleteTracker struct {
	table  *tableBase
	seen   atomic.Uint64
	closed atomic.Bool
}

func (d *deleteTracker) close() {
	if d.closed.Swap(true) {
		return
	}
	b := d.table
	b.trackersMu.Lock()
	delete(b.trackers, d)
	b.numTrackers.Add(-1)
	b.trackersMu.Unlock()
	if db := b.db.Load(); db != nil {
		db.kickGC()
	}
}

// lowWatermark is the highest revision whose tombstones every open tracker
// has seen.
func (b *tableBase) lowWatermark() Revision {
	b.trackersMu.Lock()
	defer b.trackersMu.Unlock()
	low := Revision(math.MaxUint64)
	for d := range b.trackers {
		low = min(low, d.seen.Load())
	}
	return low
}

func (t *genTable[T]) Changes(txn WriteTxn) (ChangeIterator[T], error) {
	s, err := txn.unwrap().state(&t.tableBase)
	if err != nil {
		return nil, err
	}
	// Deletes before now concern objects this iterator never saw.
	rev := s.entry.revision
	d := &deleteTracker{table: &t.tableBase}
	d.seen.Store(rev)
	t.trackersMu.Lock()
	t.trackers[d] = struct{}{}
	t.numTrackers.Add(1)
	t.trackersMu.Unlock()

	it := &changeIterator[T]{table: t, deleteRevision: rev, tracker: d}
	runtime.AddCleanup(it, func(d *deleteTracker) { d.close() }, d)
	return it, nil
}

type changeIterator[T any] struct {
	table          *genTable[T]
	revision       Revision // last update seen
	deleteRevision Revision // last delete seen
	tracker        *deleteTracker
}

func (it *changeIterator[T]) Close() { it.tracker.close() }

func (it *changeIterator[T]) Next(txn ReadTxn) (iter.Seq2[Change[T], Revision], <-chan struct{}) {
	// A write transaction that locked the table sees its own uncommitted
	// writes; the iterator must only report committed ones.
	if w, ok := txn.(*writeTxn); ok {
		txn = w.snapshot
	}
	e := txn.entry(&it.table.tableBase)
	updates := e.indexes[revisionIndexPos].Root()
	deletes := e.indexes[graveyardRevisionIndexPos].Root()

	if it.revision >= e.revision || it.tracker.closed.Load() {
		return func(func(Change[T], Revision) bool) {}, e.watch
	}
	upTo := e.revision
	used := false
	seq := func(yield func(Change[T], Revision) bool) {
		if used {
			return
		}
		used = true
		ui := iterFrom(updates, it.revision+1)
		di := iterFrom(deletes, it.deleteRevision+1)
		uk, uv, uok := ui.Next()
		dk, dv, dok := di.Next()
		for uok || dok {
			// Merge the two streams in revision order.
			if uok && (!dok || revOf(uk) < revOf(dk)) {
				o := uv.(*object)
				it.revision = o.revision
				if !yield(Change[T]{Object: o.data.(T), Revision: o.revision}, o.revision) {
					return
				}
				uk, uv, uok = ui.Next()
			} else {
				o := dv.(*object)
				it.deleteRevision = o.revision
				it.tracker.seen.Store(o.revision)
				if !yield(Change[T]{Object: o.data.(T), Revision: o.revision, Deleted: true}, o.revision) {
					return
				}
				dk, dv, dok = di.Next()
			}
		}
		// Everything up to the snapshot's revision has been seen. (max:
		// an older snapshot than a previous call's must not move back.)
		it.revision = max(it.revision, upTo)
		it.deleteRevision = max(it.deleteRevision, upTo)
		it.tracker.seen.Store(it.deleteRevision)
		if e.numDeleted > 0 {
			it.table.db.Load().kickGC()
		}
	}
	return seq, closedChan
}

func iterFrom(root *iradix.Node, rev Revision) *iradix.Iterator {
	it := root.Iterator()
	it.SeekLowerBound(revisionKey(rev))
	return it
}

func revOf(k []byte) Revision { return binary.BigEndian.Uint64(k) }
