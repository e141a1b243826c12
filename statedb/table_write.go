package statedb

import (
	"fmt"
	"slices"

	"github.com/hivenet/hivenet/statedb/index"
)

func (t *genTable[T]) Insert(txn WriteTxn, obj T) (oldObj T, hadOld bool, err error) {
	s, err := txn.unwrap().state(&t.tableBase)
	if err != nil {
		return oldObj, false, err
	}
	return t.insert(s, obj, nil, 0, false)
}

func (t *genTable[T]) Modify(txn WriteTxn, obj T, merge func(old, new T) T) (oldObj T, hadOld bool, err error) {
	s, err := txn.unwrap().state(&t.tableBase)
	if err != nil {
		return oldObj, false, err
	}
	return t.insert(s, obj, merge, 0, false)
}

func (t *genTable[T]) CompareAndSwap(txn WriteTxn, rev Revision, obj T) (oldObj T, hadOld bool, err error) {
	s, err := txn.unwrap().state(&t.tableBase)
	if err != nil {
		return oldObj, false, err
	}
	return t.insert(s, obj, nil, rev, true)
}

// insert writes obj (or merge(old, obj)), optionally only if the stored
// object has revision casRev.
func (t *genTable[T]) insert(s *tableState, obj T, merge func(old, new T) T, casRev Revision, cas bool) (oldObj T, hadOld bool, err error) {
	pks := t.primary.objectKeys(obj)
	if pks.Len() != 1 {
		return oldObj, false, fmt.Errorf("table %q: index %q: got %d keys: %w", t.name, t.primary.IndexName(), pks.Len(), ErrPrimaryKeyCount)
	}
	pk := pks.First()
	e := &s.entry
	prim := s.txn(primaryIndexPos)

	var old *object
	if merge != nil || cas {
		old, _ = prim.Get(pk)
		if cas {
			if old == nil {
				return oldObj, false, fmt.Errorf("table %q: %w", t.name, ErrObjectNotFound)
			}
			if old.revision != casRev {
				return old.data.(T), true, fmt.Errorf("table %q: have revision %d, want %d: %w", t.name, old.revision, casRev, ErrRevisionNotEqual)
			}
		}
		if merge != nil && old != nil {
			obj = merge(old.data.(T), obj)
		}
	}

	rev := e.revision + 1
	e.revision = rev
	s.changed, s.dataChanged = true, true
	o := &object{data: obj, revision: rev}

	if v, had := prim.Insert(pk, o); had {
		old = v
	} else {
		old = nil
		e.numObjects++
	}

	owner := s.revOwner()
	if old != nil {
		e.revs.set(owner, old.revision, nil)
		oldObj, hadOld = old.data.(T), true
	}
	e.revs.set(owner, rev, o)

	// A re-inserted object is live again: it must not also be reported
	// as deleted.
	if e.numDeleted > 0 {
		if v, ok := s.txn(graveyardIndexPos).Delete(pk); ok {
			e.graveRevs.set(owner, v.revision, nil)
			e.numDeleted--
		}
	}

	for i, idx := range t.secondary {
		pos := secondaryIndexStartPos + i
		tx := s.txn(pos)
		unique := t.unique[pos]
		newKeys := idx.objectKeys(obj)
		if hadOld {
			idx.objectKeys(oldObj).Foreach(func(k index.Key) {
				if newKeys.Exists(k) {
					return
				}
				if unique {
					// Only remove the key if it still points at this object.
					if v, ok := tx.Get(k); ok && v == old {
						tx.Delete(k)
					}
				} else {
					s.scratch = appendNonUnique(s.scratch[:0], k, pk)
					tx.Delete(s.scratch)
				}
			})
		}
		newKeys.Foreach(func(k index.Key) {
			if unique {
				tx.Insert(k, o)
			} else {
				tx.Insert(encodeNonUnique(k, pk), o)
			}
		})
	}
	return oldObj, hadOld, nil
}

func (t *genTable[T]) Delete(txn WriteTxn, obj T) (oldObj T, hadOld bool, err error) {
	s, err := txn.unwrap().state(&t.tableBase)
	if err != nil {
		return oldObj, false, err
	}
	return t.delete(s, obj, 0, false)
}

func (t *genTable[T]) CompareAndDelete(txn WriteTxn, rev Revision, obj T) (oldObj T, hadOld bool, err error) {
	s, err := txn.unwrap().state(&t.tableBase)
	if err != nil {
		return oldObj, false, err
	}
	return t.delete(s, obj, rev, true)
}

func (t *genTable[T]) delete(s *tableState, obj T, casRev Revision, cas bool) (oldObj T, hadOld bool, err error) {
	pk := t.primary.objectKeys(obj).First()
	prim := s.txn(primaryIndexPos)
	if cas {
		o, ok := prim.Get(pk)
		if !ok {
			return oldObj, false, fmt.Errorf("table %q: %w", t.name, ErrObjectNotFound)
		}
		if o.revision != casRev {
			return o.data.(T), true, fmt.Errorf("table %q: have revision %d, want %d: %w", t.name, o.revision, casRev, ErrRevisionNotEqual)
		}
	}
	v, ok := prim.Delete(pk)
	if !ok {
		return oldObj, false, nil
	}
	t.deleteIndexed(s, pk, v)
	return v.data.(T), true, nil
}

// deleteIndexed removes a just-deleted object from the other indexes and,
// if change iterators are tracking deletes, leaves a tombstone.
func (t *genTable[T]) deleteIndexed(s *tableState, pk index.Key, old *object) {
	e := &s.entry
	e.numObjects--
	rev := e.revision + 1
	e.revision = rev
	s.changed, s.dataChanged = true, true

	e.revs.set(s.revOwner(), old.revision, nil)
	oldT := old.data.(T)
	for i, idx := range t.secondary {
		pos := secondaryIndexStartPos + i
		tx := s.txn(pos)
		unique := t.unique[pos]
		idx.objectKeys(oldT).Foreach(func(k index.Key) {
			if unique {
				if v, ok := tx.Get(k); ok && v == old {
					tx.Delete(k)
				}
			} else {
				s.scratch = appendNonUnique(s.scratch[:0], k, pk)
				tx.Delete(s.scratch)
			}
		})
	}

	if t.numTrackers.Load() > 0 {
		tomb := &object{data: old.data, revision: rev}
		if _, had := s.txn(graveyardIndexPos).Insert(pk, tomb); had {
			// Cannot happen (a live object has no tombstone), but keep the
			// revision index consistent if it ever does.
			e.numDeleted--
		}
		e.graveRevs.set(s.revOwner(), rev, tomb)
		e.numDeleted++
	}
}

func (t *genTable[T]) DeleteAll(txn WriteTxn) error {
	s, err := txn.unwrap().state(&t.tableBase)
	if err != nil {
		return err
	}
	e := &s.entry
	if e.numObjects == 0 {
		return nil
	}
	// Every object still gets its own revision and, if deletes are
	// tracked, a tombstone; but the indexes are emptied wholesale rather
	// than key by key. Emptying a user index still closes
	// the watch channel of every node it drops.
	if t.numTrackers.Load() > 0 {
		graveyard := s.txn(graveyardIndexPos)
		owner := s.revOwner()
		for pk, o := range e.iterTree(primaryIndexPos).All() {
			e.revision++
			tomb := &object{data: o.data, revision: e.revision}
			graveyard.Insert(pk, tomb)
			e.graveRevs.set(owner, e.revision, tomb)
			e.numDeleted++
		}
	} else {
		e.revision += Revision(e.numObjects)
	}
	for pos := primaryIndexPos; pos < len(e.indexes); pos++ {
		s.txn(pos).DeleteAll()
	}
	e.revs = revTree{}
	e.numObjects = 0
	s.changed, s.dataChanged = true, true
	return nil
}

func (t *genTable[T]) RegisterInitializer(txn WriteTxn, name string) func(WriteTxn) {
	s, err := txn.unwrap().state(&t.tableBase)
	if err != nil {
		panic(fmt.Sprintf("statedb: RegisterInitializer %q: %s", name, err))
	}
	e := &s.entry
	init := &tableInit{}
	if e.init != nil {
		*init = *e.init
		if slices.Contains(init.pending, name) {
			panic(fmt.Sprintf("statedb: table %q: initializer %q registered twice", t.name, name))
		}
		init.pending = slices.Clone(init.pending)
	} else {
		init.watch = make(chan struct{})
	}
	init.pending = append(init.pending, name)
	e.init = init
	s.changed = true

	// Idempotent rather than once: a done marked in a transaction that is
	// then aborted must be markable again.
	return func(txn WriteTxn) {
		s, err := txn.unwrap().state(&t.tableBase)
		if err != nil {
			panic(fmt.Sprintf("statedb: initializer %q done: %s", name, err))
		}
		e := &s.entry
		if e.init == nil || !slices.Contains(e.init.pending, name) {
			return
		}
		init := *e.init
		init.pending = slices.DeleteFunc(slices.Clone(init.pending), func(n string) bool { return n == name })
		e.init = &init
		s.changed = true
	}
}
