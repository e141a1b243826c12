package index

import "bytes"

// Key is an encoded index key. Keys are compared bytewise.
type Key []byte

// Equal reports whether k and k2 are the same key.
func (k Key) Equal(k2 Key) bool { return bytes.Equal(k, k2) }

// KeySet is the set of keys one object has in one index: exactly one for a
// primary index, any number (including none) for a secondary index.
//
// It is a value type that holds the first key inline, so the common
// single-key case does not allocate a slice.
type KeySet struct {
	head Key
	tail []Key
	n    int
}

// NewKeySet returns the set of the given keys.
func NewKeySet(keys ...Key) KeySet {
	switch len(keys) {
	case 0:
		return KeySet{}
	case 1:
		return KeySet{head: keys[0], n: 1}
	}
	return KeySet{head: keys[0], tail: keys[1:], n: len(keys)}
}

// First returns the first key, or nil if the set is empty.
func (ks KeySet) First() Key { return ks.head }

// Len is the number of keys in the set.
func (ks KeySet) Len() int { return ks.n }

// Foreach calls fn for each key in the set.
func (ks KeySet) Foreach(fn func(Key)) {
	if ks.n == 0 {
		return
	}
	fn(ks.head)
	for _, k := range ks.tail {
		fn(k)
	}
}

// Exists reports whether k is in the set.
func (ks KeySet) Exists(k Key) bool {
	if ks.n == 0 {
		return false
	}
	if ks.head.Equal(k) {
		return true
	}
	for _, k2 := range ks.tail {
		if k2.Equal(k) {
			return true
		}
	}
	return false
}
