package statedb

import "errors"

// Errors returned by this package. Compare with errors.Is; they are wrapped
// with the table (and index) they concern.
var (
	// ErrDuplicateTable: a table with the same name is already registered.
	ErrDuplicateTable = errors.New("table already registered")
	// ErrTableNotRegistered: the table was not registered with this DB.
	ErrTableNotRegistered = errors.New("table not registered")
	// ErrInvalidTable: the table's name or indexes are malformed.
	ErrInvalidTable = errors.New("invalid table")
	// ErrPrimaryIndexNotUnique: the primary index was not marked Unique.
	ErrPrimaryIndexNotUnique = errors.New("primary index not unique")
	// ErrDuplicateIndex: two indexes of a table have the same name.
	ErrDuplicateIndex = errors.New("index name already in use")
	// ErrTransactionClosed: the write transaction was committed or aborted.
	ErrTransactionClosed = errors.New("transaction is closed")
	// ErrTableNotLockedForWriting: the write transaction did not name the table.
	ErrTableNotLockedForWriting = errors.New("table not locked for writing")
	// ErrRevisionNotEqual: CompareAndSwap/CompareAndDelete found a different revision.
	ErrRevisionNotEqual = errors.New("revision not equal")
	// ErrObjectNotFound: CompareAndSwap/CompareAndDelete found no object.
	ErrObjectNotFound = errors.New("object not found")
	// ErrPrimaryKeyCount: an object's primary index key set did not hold exactly one key.
	ErrPrimaryKeyCount = errors.New("object must have exactly one primary key")
)
