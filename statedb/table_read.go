package statedb

import (
	"encoding/binary"
	"iter"

	iradix "github.com/hashicorp/go-immutable-radix"

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
	root := e.root(pos)
	if t.unique[pos] {
		v, ok := root.Get(q.key)
		if !ok {
			return obj, 0, false
		}
		o := v.(*object)
		return o.data.(T), o.revision, true
	}
	it := root.Iterator()
	it.SeekPrefix(q.key)
	for k, v, ok := it.Next(); ok; k, v, ok = it.Next() {
		if secondaryLen(k) == len(q.key) {
			o := v.(*object)
			return o.data.(T), o.revision, true
		}
	}
	return obj, 0, false
}

func (t *genTable[T]) GetWatch(txn ReadTxn, q Query[T]) (obj T, rev Revision, watch <-chan struct{}, found bool) {
	e := txn.entry(&t.tableBase)
	pos := t.indexPos(q.index)
	root := e.root(pos)
	if t.unique[pos] {
		w, v, ok := root.GetWatch(q.key)
		if !ok {
			return obj, 0, w, false
		}
		o := v.(*object)
		return o.data.(T), o.revision, w, true
	}
	it := root.Iterator()
	w := it.SeekPrefixWatch(q.key)
	for k, v, ok := it.Next(); ok; k, v, ok = it.Next() {
		if secondaryLen(k) == len(q.key) {
			o := v.(*object)
			return o.data.(T), o.revision, w, true
		}
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
			v     any
			ok    bool
		)
		if withWatch {
			watch, v, ok = e.root(pos).GetWatch(q.key)
		} else {
			v, ok = e.root(pos).Get(q.key)
		}
		return func(yield func(T, Revision) bool) {
			if ok {
				o := v.(*object)
				yield(o.data.(T), o.revision)
			}
		}, watch
	}
	root := e.iterRoot(pos)
	var watch <-chan struct{}
	if withWatch {
		watch = root.Iterator().SeekPrefixWatch(q.key)
	}
	return func(yield func(T, Revision) bool) {
		// Walk is a recursive descent and quite a bit faster than the
		// radix tree's Iterator, which keeps an explicit stack.
		root.WalkPrefix(q.key, func(k []byte, v any) bool {
			if secondaryLen(k) != len(q.key) {
				return false
			}
			o := v.(*object)
			return !yield(o.data.(T), o.revision)
		})
	}, watch
}

func (t *genTable[T]) Prefix(txn ReadTxn, q Query[T]) iter.Seq2[T, Revision] {
	seq, _ := t.prefix(txn, q, false)
	return seq
}

func (t *genTable[T]) PrefixWatch(txn ReadTxn, q Query[T]) (iter.Seq2[T, Revision], <-chan struct{}) {
	return t.prefix(txn, q, true)
}

func (t *genTable[T]) prefix(txn ReadTxn, q Query[T], withWatch bool) (iter.Seq2[T, Revision], <-chan struct{}) {
	e := txn.entry(&t.tableBase)
	pos := t.indexPos(q.index)
	root := e.iterRoot(pos)
	var watch <-chan struct{}
	if withWatch {
		watch = root.Iterator().SeekPrefixWatch(q.key)
	}
	unique := t.unique[pos]
	return func(yield func(T, Revision) bool) {
		root.WalkPrefix(q.key, func(k []byte, v any) bool {
			// In a non-unique index the prefix must lie within the
			// secondary key, not run on into the primary key.
			if !unique && secondaryLen(k) < len(q.key) {
				return false
			}
			o := v.(*object)
			return !yield(o.data.(T), o.revision)
		})
	}, watch
}

func (t *genTable[T]) LowerBound(txn ReadTxn, q Query[T]) iter.Seq2[T, Revision] {
	seq, _ := t.LowerBoundWatch(txn, q)
	return seq
}

func (t *genTable[T]) LowerBoundWatch(txn ReadTxn, q Query[T]) (iter.Seq2[T, Revision], <-chan struct{}) {
	e := txn.entry(&t.tableBase)
	pos := t.indexPos(q.index)
	return lowerBound[T](e.iterRoot(pos), q.key), e.watch
}

func lowerBound[T any](root *iradix.Node, key []byte) iter.Seq2[T, Revision] {
	return func(yield func(T, Revision) bool) {
		it := root.Iterator()
		it.SeekLowerBound(key)
		for _, v, ok := it.Next(); ok; _, v, ok = it.Next() {
			o := v.(*object)
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
	root := e.iterRoot(primaryIndexPos)
	return func(yield func(T, Revision) bool) {
		root.Walk(func(_ []byte, v any) bool {
			o := v.(*object)
			return !yield(o.data.(T), o.revision)
		})
	}, e.watch
}
