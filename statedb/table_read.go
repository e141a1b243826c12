package statedb

import (
	"encoding/binary"
	"iter"

	"github.com/hivenet/hivenet/statedb/art"
	"github.com/hivenet/hivenet/statedb/index"
)

// A non-unique index stores each (secondary key, object) pair under
// secondary key ++ primary key ++ uint16(len(secondary key)), so that one
// secondary key can map to many objects and a prefix search on the
// secondary key finds them all. The length suffix tells an exact match
// ("a") from a longer key with the same prefix ("ab").

func encodeNonUnique(sk, pk index.Key) []byte {
	return appendNonUnique(make([]byte, 0, len(sk)+len(pk)+2), sk, pk)
}

func appendNonUnique(dst []byte, sk, pk index.Key) []byte {
	dst = append(dst, sk...)
	dst = append(dst, pk...)
	return binary.BigEndian.AppendUint16(dst, uint16(len(sk)))
}

func secondaryLen(k []byte) int {
	return int(binary.BigEndian.Uint16(k[len(k)-2:]))
}

func (t *genTable[T]) Get(txn ReadTxn, q Query[T]) (obj T, rev Revision, found bool) {
	e := txn.entry(&t.tableBase)
	pos := t.indexPos(q.index)
	if t.unique[pos] {
		o, ok := e.get(pos, q.key)
		if !ok {
			return obj, 0, false
		}
		return o.data.(T), o.revision, true
	}
	seq, _ := e.iterTree(pos).Prefix(q.key)
	if o := firstExact(seq, q.key); o != nil {
		return o.data.(T), o.revision, true
	}
	return obj, 0, false
}

// firstExact returns the first object of a non-unique index's prefix
// search whose secondary key is exactly key. (A function of its own: the
// range-over-func body would otherwise move the caller's results to the
// heap.)
func firstExact(seq func(func([]byte, *object) bool), key []byte) *object {
	for k, o := range seq {
		if secondaryLen(k) == len(key) {
			return o
		}
	}
	return nil
}

func (t *genTable[T]) GetWatch(txn ReadTxn, q Query[T]) (obj T, rev Revision, watch <-chan struct{}, found bool) {
	e := txn.entry(&t.tableBase)
	pos := t.indexPos(q.index)
	if t.unique[pos] {
		o, ok, w := e.getWatch(pos, q.key)
		if !ok {
			return obj, 0, w, false
		}
		return o.data.(T), o.revision, w, true
	}
	seq, w := e.iterTree(pos).Prefix(q.key)
	if o := firstExact(seq, q.key); o != nil {
		return o.data.(T), o.revision, w, true
	}
	return obj, 0, w, false
}

func (t *genTable[T]) List(txn ReadTxn, q Query[T]) iter.Seq2[T, Revision] {
	seq, _ := t.list(txn, q, false)
	return seq
}

func (t *genTable[T]) ListWatch(txn ReadTxn, q Query[T]) (iter.Seq2[T, Revision], <-chan struct{}) {
	return t.list(txn, q, true)
}

func (t *genTable[T]) list(txn ReadTxn, q Query[T], withWatch bool) (iter.Seq2[T, Revision], <-chan struct{}) {
	e := txn.entry(&t.tableBase)
	pos := t.indexPos(q.index)
	if t.unique[pos] {
		var (
			watch <-chan struct{}
			o     *object
			ok    bool
		)
		if withWatch {
			o, ok, watch = e.getWatch(pos, q.key)
		} else {
			o, ok = e.get(pos, q.key)
		}
		return func(yield func(T, Revision) bool) {
			if ok {
				yield(o.data.(T), o.revision)
			}
		}, watch
	}
	seq, watch := e.iterTree(pos).Prefix(q.key)
	return func(yield func(T, Revision) bool) {
		for k, o := range seq {
			// Keys of longer secondary keys with the same prefix sort
			// among these; skip them.
			if secondaryLen(k) == len(q.key) && !yield(o.data.(T), o.revision) {
				return
			}
		}
	}, watch
}

func (t *genTable[T]) Prefix(txn ReadTxn, q Query[T]) iter.Seq2[T, Revision] {
	seq, _ := t.prefix(txn, q)
	return seq
}

func (t *genTable[T]) PrefixWatch(txn ReadTxn, q Query[T]) (iter.Seq2[T, Revision], <-chan struct{}) {
	return t.prefix(txn, q)
}

func (t *genTable[T]) prefix(txn ReadTxn, q Query[T]) (iter.Seq2[T, Revision], <-chan struct{}) {
	e := txn.entry(&t.tableBase)
	pos := t.indexPos(q.index)
	seq, watch := e.iterTree(pos).Prefix(q.key)
	unique := t.unique[pos]
	return func(yield func(T, Revision) bool) {
		for k, o := range seq {
			// In a non-unique index the prefix must lie within the
			// secondary key, not run on into the primary key.
			if !unique && secondaryLen(k) < len(q.key) {
				continue
			}
			if !yield(o.data.(T), o.revision) {
				return
			}
		}
	}, watch
}

func (t *genTable[T]) LowerBound(txn ReadTxn, q Query[T]) iter.Seq2[T, Revision] {
	seq, _ := t.LowerBoundWatch(txn, q)
	return seq
}

func (t *genTable[T]) LowerBoundWatch(txn ReadTxn, q Query[T]) (iter.Seq2[T, Revision], <-chan struct{}) {
	e := txn.entry(&t.tableBase)
	pos := t.indexPos(q.index)
	return lowerBound[T](e.iterTree(pos), q.key), e.watch
}

func lowerBound[T any](tree art.Tree[*object], key []byte) iter.Seq2[T, Revision] {
	return func(yield func(T, Revision) bool) {
		for _, o := range tree.LowerBound(key) {
			if !yield(o.data.(T), o.revision) {
				return
			}
		}
	}
}

func (t *genTable[T]) All(txn ReadTxn) iter.Seq2[T, Revision] {
	seq, _ := t.AllWatch(txn)
	return seq
}

func (t *genTable[T]) AllWatch(txn ReadTxn) (iter.Seq2[T, Revision], <-chan struct{}) {
	e := txn.entry(&t.tableBase)
	tree := e.iterTree(primaryIndexPos)
	return func(yield func(T, Revision) bool) {
		for _, o := range tree.All() {
			if !yield(o.data.(T), o.revision) {
				return
			}
		}
	}, e.watch
}
