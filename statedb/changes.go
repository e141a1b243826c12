package statedb

import (
	"iter"
	"math"
	"runtime"
	"sync/atomic"
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
	if it.revision >= e.revision || it.tracker.closed.Load() {
		return func(func(Change[T], Revision) bool) {}, e.watch
	}
	updates, deletes := e.revs, e.graveRevs
	upTo := e.revision
	used := false
	seq := func(yield func(Change[T], Revision) bool) {
		if used {
			return
		}
		used = true
		// Merge the two streams in revision order. Deletes are usually
		// few, so they are the one stepped through by lookups.
		d := deletes.ceil(it.deleteRevision + 1)
		yieldDelete := func(d *object) bool {
			it.deleteRevision = d.revision
			it.tracker.seen.Store(d.revision)
			return yield(Change[T]{Object: d.data.(T), Revision: d.revision, Deleted: true}, d.revision)
		}
		for u := range updates.from(it.revision + 1) {
			for d != nil && d.revision < u.revision {
				if !yieldDelete(d) {
					return
				}
				d = deletes.ceil(d.revision + 1)
			}
			it.revision = u.revision
			if !yield(Change[T]{Object: u.data.(T), Revision: u.revision}, u.revision) {
				return
			}
		}
		for ; d != nil; d = deletes.ceil(d.revision + 1) {
			if !yieldDelete(d) {
				return
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
