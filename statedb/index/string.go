package index

import "fmt"

// String encodes a string as its bytes.
func String(s string) Key { return Key(s) }

// FromString is String for indexes queried from text (the HTTP handler, the CLI).
func FromString(s string) (Key, error) { return String(s), nil }

// Stringer encodes the String() of a value.
func Stringer[T fmt.Stringer](s T) Key { return Key(s.String()) }

// StringSlice is the key set of a slice of strings, for non-unique indexes
// over an object's labels, names or tags.
func StringSlice(ss []string) KeySet {
	keys := make([]Key, len(ss))
	for i, s := range ss {
		keys[i] = String(s)
	}
	return NewKeySet(keys...)
}

// Bool encodes false as 0 and true as 1.
func Bool(b bool) Key {
	if b {
		return Key{1}
	}
	return Key{0}
}
