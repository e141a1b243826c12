// Package art is a persistent (immutable, structurally shared) adaptive
// radix tree from byte-string keys to values, with a watch channel on
// every node. It is the storage of statedb's key indexes.
//
// A [Tree] never changes once made: readers use it without locks. Writes go
// through a [Txn], which copies the nodes on the path it changes, mutates
// in place the nodes it already copied (so a batch of writes copies each
// node at most once), and remembers the watch channels of the nodes it
// replaced. [Txn.Commit] returns the new tree; [Txn.Notify] then closes
// those channels, waking everyone watching a part of the old tree that
// changed.
//
// Nodes adapt to their fan-out: up to 16 children in a small sorted array
// searched eight labels at a time, more in a 256-slot array indexed by the
// key byte, both out of line so that leaves stay small. Paths without
// branches are compressed into one node's prefix.
//
// A Txn must start from the latest committed tree: two transactions
// committed from the same tree would both close its replaced nodes'
// channels. statedb guarantees this with its per-table write lock.
package art

import (
	"iter"
)

// Tree is an immutable radix tree, a small value to pass around by copy.
// The zero value is not usable; use [New] or a [Txn]'s result.
type Tree[V any] struct {
	root *node[V]
	size int
}

// New returns an empty tree.
func New[V any]() Tree[V] {
	return Tree[V]{root: &node[V]{watch: make(chan struct{})}}
}

// Len returns the number of keys in the tree.
func (t Tree[V]) Len() int { return t.size }

// Txn starts a write transaction on the tree. The tree itself is not
// changed by it.
func (t Tree[V]) Txn() *Txn[V] {
	txn := new(Txn[V])
	txn.Reset(t)
	return txn
}

// Get returns the value stored under key.
func (t Tree[V]) Get(key []byte) (V, bool) {
	return get(t.root, key)
}

// GetWatch returns the value stored under key and a channel that is closed
// when a later commit changes the value under key (it may also be closed by
// changes to keys near it).
func (t Tree[V]) GetWatch(key []byte) (V, bool, <-chan struct{}) {
	return getWatch(t.root, key)
}

// All iterates over every key and value in key order.
func (t Tree[V]) All() iter.Seq2[[]byte, V] {
	root := t.root
	return func(yield func([]byte, V) bool) { root.walk(yield) }
}

// Prefix iterates in key order over the keys that start with prefix, and
// returns a channel closed when a later commit changes any of them (or
// adds one).
func (t Tree[V]) Prefix(prefix []byte) (iter.Seq2[[]byte, V], <-chan struct{}) {
	return prefixSearch(t.root, prefix)
}

// LowerBound iterates in key order over the keys at or after key.
func (t Tree[V]) LowerBound(key []byte) iter.Seq2[[]byte, V] {
	root := t.root
	return func(yield func([]byte, V) bool) { root.lowerBound(key, yield) }
}

// The root's prefix is always empty, and a child's first prefix byte is
// the label it was found under: the lookups below compare only the rest.

func get[V any](n *node[V], key []byte) (v V, ok bool) {
	for {
		if len(key) == 0 {
			return n.val, n.hasVal
		}
		if n = n.child(key[0]); n == nil || !hasRestOfPrefix(key, n.prefix) {
			return v, false
		}
		key = key[len(n.prefix):]
	}
}

func getWatch[V any](n *node[V], key []byte) (v V, ok bool, watch <-chan struct{}) {
	for {
		if len(key) == 0 {
			return n.val, n.hasVal, n.watch
		}
		c := n.child(key[0])
		if c == nil {
			return v, false, n.watch
		}
		// A key that is absent under c would be added beneath c, or
		// beside it by splitting c, which copies c too.
		if !hasRestOfPrefix(key, c.prefix) {
			return v, false, c.watch
		}
		key = key[len(c.prefix):]
		n = c
	}
}

// hasRestOfPrefix reports whether key starts with p, given that their
// first bytes are equal.
func hasRestOfPrefix(key, p []byte) bool {
	if len(key) < len(p) {
		return false
	}
	if len(p) > 8 {
		return string(key[1:len(p)]) == string(p[1:])
	}
	for i := 1; i < len(p); i++ {
		if key[i] != p[i] {
			return false
		}
	}
	return true
}

// prefixSearch finds the node whose subtree holds exactly the keys with
// the prefix.
func prefixSearch[V any](n *node[V], prefix []byte) (iter.Seq2[[]byte, V], <-chan struct{}) {
	rest := prefix
	for {
		p := n.prefix
		if len(rest) <= len(p) {
			if string(p[:len(rest)]) != string(rest) {
				return emptySeq[V], n.watch
			}
			found := n
			return func(yield func([]byte, V) bool) { found.walk(yield) }, n.watch
		}
		if string(rest[:len(p)]) != string(p) {
			return emptySeq[V], n.watch
		}
		rest = rest[len(p):]
		c := n.child(rest[0])
		if c == nil {
			return emptySeq[V], n.watch
		}
		n = c
	}
}

func emptySeq[V any](func([]byte, V) bool) {}

// walk yields every key under n in order; it returns false if yield did.
func (n *node[V]) walk(yield func([]byte, V) bool) bool {
	if n.hasVal && !yield(n.key, n.val) {
		return false
	}
	for _, c := range n.kids() {
		switch {
		case c == nil:
		case c.numKids == 0:
			// A leaf: no call.
			if c.hasVal && !yield(c.key, c.val) {
				return false
			}
		case !c.walk(yield):
			return false
		}
	}
	return true
}

// lowerBound yields the keys under n that are at or after the bound, where
// bound is what remains of it at n (n's prefix included).
func (n *node[V]) lowerBound(bound []byte, yield func([]byte, V) bool) bool {
	p := n.prefix
	m := min(len(p), len(bound))
	switch c := compare(p[:m], bound[:m]); {
	case c > 0:
		return n.walk(yield)
	case c < 0:
		return true
	}
	if len(bound) <= len(p) {
		// The bound is a prefix of every key here.
		return n.walk(yield)
	}
	bound = bound[len(p):]
	// n's own key is shorter than the bound and sorts before it.
	b := bound[0]
	for _, c := range n.kids() {
		switch {
		case c == nil || c.prefix[0] < b:
		case c.prefix[0] == b:
			if !c.lowerBound(bound, yield) {
				return false
			}
		default:
			if !c.walk(yield) {
				return false
			}
		}
	}
	return true
}

func compare(a, b []byte) int {
	switch sa, sb := string(a), string(b); {
	case sa < sb:
		return -1
	case sa > sb:
		return 1
	}
	return 0
}
