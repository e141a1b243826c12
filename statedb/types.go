package statedb

import (
	"iter"

	"github.com/hivenet/hivenet/statedb/index"
)

// Revision orders the changes to a table. Every insert, update and delete
// takes the table's next revision; zero means "never written".
type Revision = uint64

// TableName is the name a table is registered and inspected under.
type TableName = string

// Table is the read side of a table of objects of type T.
//
// T must be treated as immutable once inserted: readers share the stored
// object, so an update inserts a new copy.
type Table[T any] interface {
	TableMeta

	// PrimaryIndexer returns the table's primary index.
	PrimaryIndexer() Indexer[T]

	// Get returns the first object matching the query.
	Get(ReadTxn, Query[T]) (obj T, rev Revision, found bool)
	// GetWatch is Get plus a channel closed when the result may have
	// changed (including when a missing object appears).
	GetWatch(ReadTxn, Query[T]) (obj T, rev Revision, watch <-chan struct{}, found bool)

	// List returns the objects whose key equals the query's key.
	List(ReadTxn, Query[T]) iter.Seq2[T, Revision]
	// ListWatch is List plus a channel closed when the result may have changed.
	ListWatch(ReadTxn, Query[T]) (iter.Seq2[T, Revision], <-chan struct{})

	// Prefix returns the objects whose key starts with the query's key, in
	// key order.
	Prefix(ReadTxn, Query[T]) iter.Seq2[T, Revision]
	// PrefixWatch is Prefix plus a channel closed when the result may have changed.
	PrefixWatch(ReadTxn, Query[T]) (iter.Seq2[T, Revision], <-chan struct{})

	// LowerBound returns the objects whose key is at least the query's key,
	// in key order.
	LowerBound(ReadTxn, Query[T]) iter.Seq2[T, Revision]
	// LowerBoundWatch is LowerBound plus a channel closed when anything in
	// the table changes.
	LowerBoundWatch(ReadTxn, Query[T]) (iter.Seq2[T, Revision], <-chan struct{})

	// All returns every object in primary key order.
	All(ReadTxn) iter.Seq2[T, Revision]
	// AllWatch is All plus a channel closed when anything in the table changes.
	AllWatch(ReadTxn) (iter.Seq2[T, Revision], <-chan struct{})

	// Changes registers a change iterator on the table. The write
	// transaction must lock the table; from then on deletes are kept as
	// tombstones until the iterator has seen them (or is closed).
	Changes(WriteTxn) (ChangeIterator[T], error)
}

// RWTable is a Table that can be written with a [WriteTxn] that locked it.
//
// Write methods return [ErrTableNotLockedForWriting] when the transaction did
// not lock the table and [ErrTransactionClosed] after Commit or Abort.
type RWTable[T any] interface {
	Table[T]

	// ToTable returns the read-only view, for handing to readers.
	ToTable() Table[T]

	// Insert inserts or replaces the object with the same primary key.
	Insert(WriteTxn, T) (oldObj T, hadOld bool, err error)

	// Modify inserts obj, or, if an object with the same primary key
	// exists, inserts merge(old, obj).
	Modify(txn WriteTxn, obj T, merge func(old, new T) T) (oldObj T, hadOld bool, err error)

	// CompareAndSwap replaces the object only if the stored one has revision
	// rev. Returns [ErrObjectNotFound] or [ErrRevisionNotEqual] otherwise.
	CompareAndSwap(txn WriteTxn, rev Revision, obj T) (oldObj T, hadOld bool, err error)

	// Delete deletes the object with obj's primary key. Deleting a missing
	// object is not an error (hadOld is false).
	Delete(WriteTxn, T) (oldObj T, hadOld bool, err error)

	// CompareAndDelete deletes the object only if the stored one has
	// revision rev. Returns [ErrObjectNotFound] or [ErrRevisionNotEqual]
	// otherwise.
	CompareAndDelete(txn WriteTxn, rev Revision, obj T) (oldObj T, hadOld bool, err error)

	// DeleteAll deletes every object.
	DeleteAll(WriteTxn) error

	// RegisterInitializer marks the table uninitialised until the returned
	// function has been called (in a later write transaction that locks the
	// table) by every registered initializer. A k8s reflector registers one
	// and calls it once its initial listing is in the table. Calling it
	// again is harmless; calling it in a transaction that is aborted has no
	// effect, so it can be called again later.
	RegisterInitializer(txn WriteTxn, name string) func(WriteTxn)
}

// TableMeta is the part of a table that does not depend on its object type:
// what the DB, the HTTP handler and the metrics work with.
type TableMeta interface {
	// Name of the table.
	Name() TableName
	// Indexes lists the names of the table's indexes, primary first.
	Indexes() []string
	// NumObjects is the number of objects in the table.
	NumObjects(ReadTxn) int
	// Revision is the table's latest revision.
	Revision(ReadTxn) Revision
	// Initialized reports whether every registered initializer is done,
	// and returns a channel closed when it becomes so.
	Initialized(ReadTxn) (bool, <-chan struct{})
	// PendingInitializers lists the initializers not done yet.
	PendingInitializers(ReadTxn) []string

	base() *tableBase
}

// ReadTxn is a consistent snapshot of every table in the DB. It is cheap
// (no copy, no lock) and may be kept as long as needed.
type ReadTxn interface {
	entry(*tableBase) *tableEntry
}

// WriteTxn is a write transaction over the tables it locked. It is also a
// ReadTxn that sees its own uncommitted writes. Use it from one goroutine.
//
// The intended pattern:
//
//	wtxn := db.WriteTxn(table)
//	defer wtxn.Abort()
//	...
//	wtxn.Commit()
type WriteTxn interface {
	ReadTxn

	// Commit makes the transaction's writes visible to new readers,
	// atomically across all its tables, closes the watch channels of what
	// changed and releases the locks. It returns a ReadTxn of the DB right
	// after the commit. Commit after Commit or Abort does nothing and
	// returns the current snapshot.
	Commit() ReadTxn

	// Abort discards the writes and releases the locks. Abort after Commit
	// does nothing, so it can be deferred.
	Abort()

	unwrap() *writeTxn
}

// Change is one change to a table as seen by a [ChangeIterator].
type Change[T any] struct {
	Object   T        `json:"obj"`
	Revision Revision `json:"rev"`
	Deleted  bool     `json:"deleted,omitempty"`
}

// ChangeIterator follows a table's changes in revision order. Only the
// latest state of each object is reported: an object inserted and updated
// since the last look is seen once, and an object inserted and deleted in
// between is seen only as deleted.
type ChangeIterator[T any] interface {
	// Next returns the changes not yet seen up to the given snapshot and a
	// watch channel. If there were changes the channel is already closed;
	// once Next returns no changes, the channel closes when new ones are
	// committed. The sequence is single-use. If txn is a WriteTxn that
	// locked the table, only changes committed before it are returned.
	//
	// The usual loop:
	//
	//	for {
	//		changes, watch := iter.Next(db.ReadTxn())
	//		for change, rev := range changes { ... }
	//		select { case <-ctx.Done(): return; case <-watch: }
	//	}
	Next(txn ReadTxn) (iter.Seq2[Change[T], Revision], <-chan struct{})

	// Close stops tracking deletes for this iterator, so the table no
	// longer keeps tombstones for it. An iterator that becomes unreachable
	// is closed automatically, but closing explicitly frees them sooner.
	Close()
}

// Query is a lookup of a key in a named index, built with [Index.Query].
type Query[T any] struct {
	index string
	key   index.Key
}

// Indexer is implemented by [Index]; a table's primary and secondary indexes
// are Indexers of the table's object type.
type Indexer[T any] interface {
	// IndexName returns the index's name.
	IndexName() string
	// ObjectToKey returns the object's first key in this index.
	ObjectToKey(T) index.Key
	// QueryFromObject returns a query for the object's first key.
	QueryFromObject(T) Query[T]

	isUnique() bool
	objectKeys(T) index.KeySet
	fromString(string) (index.Key, error)
}
