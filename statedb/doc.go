// Package statedb is hivenet's transactional in-memory database: the one
// place state lives in a process. Feature cells write desired state into
// tables, reconcilers follow the tables' changes into the kernel.
//
// A [DB] holds [Table]s of immutable objects. Each table has a primary index
// and any number of secondary indexes, declared with typed [Index] functions
// (no reflection). A [ReadTxn] is a consistent snapshot of every table; a
// [WriteTxn] locks only the tables it names, commits atomically across them
// and can be aborted. Queries return watch channels that are closed when
// their result may have changed, and each table carries a revision that
// every insert and delete advances, so [Table.Changes] can hand a consumer
// everything that happened since it last looked, deletes included.
//
// The API follows github.com/cilium/statedb so that code written against one
// reads the same against the other. The key indexes are
// github.com/hashicorp/go-immutable-radix trees (the tree under go-memdb),
// driven directly, which hand out the per-key watch channels; the two
// revision indexes (live objects and tombstones by revision) are a
// persistent trie of this package, cheaper for keys that are only appended.
// A commit swaps the roots of every written table in one atomic step.
package statedb
