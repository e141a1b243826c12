package statedb

import (
	"fmt"

	"github.com/hivenet/hivenet/statedb/index"
)

// Index is a typed index over objects of type T, queried with keys of type K.
//
//	var byName = statedb.Index[*Frontend, string]{
//		Name:       "name",
//		FromObject: func(f *Frontend) index.KeySet { return index.NewKeySet(index.String(f.Name)) },
//		FromKey:    index.String,
//		Unique:     true,
//	}
//	fe, _, found := frontends.Get(txn, byName.Query("default/server"))
type Index[T any, K any] struct {
	// Name of the index, unique within its table.
	Name string
	// FromObject returns the object's keys in this index: exactly one for
	// a primary index, any number for a secondary one.
	FromObject func(obj T) index.KeySet
	// FromKey encodes a query key. It must encode the same way FromObject
	// does, or queries will not find anything.
	FromKey func(key K) index.Key
	// FromString optionally parses a query key from text, for the HTTP
	// handler and the CLI. Without it, text is used as the raw key.
	FromString func(key string) (index.Key, error)
	// Unique means each key maps to at most one object. A primary index
	// must be unique. Inserting an object whose key in a unique secondary
	// index is held by another object takes that key over.
	Unique bool
}

// Query returns a query for the objects with the given key in this index.
func (i Index[T, K]) Query(key K) Query[T] {
	return Query[T]{index: i.Name, key: i.FromKey(key)}
}

// QueryFromObject returns a query for the object's first key in this index.
func (i Index[T, K]) QueryFromObject(obj T) Query[T] {
	return Query[T]{index: i.Name, key: i.FromObject(obj).First()}
}

// ObjectToKey returns the object's first key in this index.
func (i Index[T, K]) ObjectToKey(obj T) index.Key { return i.FromObject(obj).First() }

// IndexName returns the index's name.
func (i Index[T, K]) IndexName() string { return i.Name }

func (i Index[T, K]) isUnique() bool                { return i.Unique }
func (i Index[T, K]) objectKeys(obj T) index.KeySet { return i.FromObject(obj) }

func (i Index[T, K]) fromString(s string) (index.Key, error) {
	if i.FromString == nil {
		return index.Key(s), nil
	}
	k, err := i.FromString(s)
	if err != nil {
		return nil, fmt.Errorf("index %q: bad key %q: %w", i.Name, s, err)
	}
	return k, nil
}

var _ Indexer[struct{}] = Index[struct{}, string]{}
