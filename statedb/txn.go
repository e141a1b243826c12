package statedb

import (
	"fmt"
	"slices"
	"time"

	"github.com/hivenet/hivenet/statedb/art"
)

// writeTxn is the WriteTxn implementation.
type writeTxn struct {
	db       *DB
	snapshot *readTxn
	states   []tableState  // locked tables in registration order
	inline   [1]tableState // most write transactions name one table
	closed   bool
	start    time.Time
}

// tableState is a locked table's working copy within a write transaction.
type tableState struct {
	base  *tableBase
	entry tableEntry
	// changed: there is something to commit. dataChanged: objects were
	// written, so the table's watch channel must close. Graveyard
	// collection changes the former only.
	changed     bool
	dataChanged bool
	// scratch is reused for keys that only look up or delete.
	scratch []byte
	// owner marks the revTree nodes this transaction copied and may
	// mutate in place.
	owner revOwner
	// The tree transactions of the first indexes written, and the slice
	// of them, live here rather than in allocations of their own: a write
	// transaction usually writes one or two indexes of one table. (Only
	// the working entry points into them; a commit drops the pointers.)
	txnPtrs  [4]*art.Txn[*object]
	txnStore [2]art.Txn[*object]
	txnsUsed int
}

func (s *tableState) revOwner() revOwner {
	if s.owner == 0 {
		s.owner = newRevOwner()
	}
	return s.owner
}

func (t *writeTxn) unwrap() *writeTxn { return t }

func (t *writeTxn) entry(b *tableBase) *tableEntry {
	for i := range t.states {
		if t.states[i].base == b {
			return &t.states[i].entry
		}
	}
	return t.snapshot.entry(b)
}

// state returns the working state of a table locked by this transaction.
func (t *writeTxn) state(b *tableBase) (*tableState, error) {
	if t.closed {
		return nil, fmt.Errorf("table %q: %w", b.name, ErrTransactionClosed)
	}
	for i := range t.states {
		if t.states[i].base == b {
			return &t.states[i], nil
		}
	}
	return nil, fmt.Errorf("table %q: %w", b.name, ErrTableNotLockedForWriting)
}

// txn returns the open tree transaction for index pos, starting it (and
// copying the entry's index slice) on first use.
func (s *tableState) txn(pos int) *art.Txn[*object] {
	e := &s.entry
	s.own()
	tx := e.txns[pos]
	if tx == nil {
		if s.txnsUsed < len(s.txnStore) {
			tx = &s.txnStore[s.txnsUsed]
			s.txnsUsed++
			tx.Reset(e.indexes[pos])
		} else {
			tx = e.indexes[pos].Txn()
		}
		// Only user indexes hand out per-key watch channels; the internal
		// ones are watched through the table's channel.
		if pos < primaryIndexPos {
			tx.NoWatch()
		}
		e.txns[pos] = tx
	}
	return tx
}

// own makes the entry's index slice the transaction's own copy.
func (s *tableState) own() {
	e := &s.entry
	if e.txns == nil {
		if len(e.indexes) <= len(s.txnPtrs) {
			e.txns = s.txnPtrs[:len(e.indexes)]
		} else {
			e.txns = make([]*art.Txn[*object], len(e.indexes))
		}
		e.indexes = slices.Clone(e.indexes)
	}
}

// resetIndex empties an internal index in one step. Only for indexes
// nobody watches: unlike deleting, it closes no watch channels.
func (s *tableState) resetIndex(pos int) {
	s.own()
	s.entry.indexes[pos] = art.New[*object]()
	s.entry.txns[pos] = nil
}

func (t *writeTxn) Abort() {
	if t.closed {
		return
	}
	t.closed = true
	d := time.Since(t.start).Seconds()
	for i := len(t.states) - 1; i >= 0; i-- {
		t.states[i].base.mu.Unlock()
		t.states[i].base.txnDuration.Observe(d)
	}
}

func (t *writeTxn) Commit() ReadTxn {
	if t.closed {
		return t.db.ReadTxn()
	}
	t.closed = true
	db := t.db

	anyChanged := false
	for i := range t.states {
		s := &t.states[i]
		if !s.changed {
			continue
		}
		anyChanged = true
		e := &s.entry
		if e.txns != nil {
			for pos, tx := range e.txns {
				if tx != nil {
					e.indexes[pos] = tx.Commit()
				}
			}
		}
	}

	var root *readTxn
	if anyChanged {
		db.mu.Lock()
		cur := db.root.Load()
		entries := slices.Clone(cur.entries)
		for i := range t.states {
			s := &t.states[i]
			if !s.changed {
				continue
			}
			ne := new(tableEntry)
			*ne = s.entry
			ne.txns = nil
			if s.dataChanged {
				ne.watch = make(chan struct{})
			}
			if ne.init != nil && len(ne.init.pending) == 0 {
				ne.init = nil
			}
			entries[s.base.position()] = ne
		}
		root = &readTxn{entries: entries}
		db.root.Store(root)
		db.mu.Unlock()
	} else {
		root = db.root.Load()
	}

	// Close channels only after the new root is visible, so a reader woken
	// by one sees the change when it looks again.
	kickGC := false
	for i := range t.states {
		s := &t.states[i]
		if !s.changed {
			continue
		}
		old := t.snapshot.entries[s.base.position()]
		if s.entry.txns != nil {
			for _, tx := range s.entry.txns {
				if tx != nil {
					tx.Notify()
				}
			}
		}
		if s.dataChanged {
			close(old.watch)
		}
		if old.init != nil && (s.entry.init == nil || len(s.entry.init.pending) == 0) {
			close(old.init.watch)
		}
		if s.entry.numDeleted > old.numDeleted {
			kickGC = true
		}
	}
	if kickGC {
		db.kickGC()
	}

	now := time.Now()
	for i := len(t.states) - 1; i >= 0; i-- {
		s := &t.states[i]
		s.base.mu.Unlock()
		s.base.txnDuration.Observe(now.Sub(t.start).Seconds())
	}
	return root
}
