// Package index encodes values into the byte-string keys that statedb
// indexes are built from.
//
// Keys compare as byte strings, so every encoder here preserves the natural
// order of its type: integers are big-endian (signed ones with the sign bit
// flipped, so -1 sorts before 0), addresses are fixed width. That makes
// LowerBound and Prefix queries on an index mean what they say.
package index
