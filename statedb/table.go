package statedb

import (
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hivenet/hivenet/statedb/art"
	"github.com/hivenet/hivenet/statedb/index"
)

// tableBase is the part of a table that does not depend on its object type.
type tableBase struct {
	name string
	meta TableMeta
	// indexNames and unique are indexed by index position (internal
	// indexes first, see primaryIndexPos).
	indexNames []string
	unique     []bool

	// mu is the table's write lock, held by the WriteTxn that names it.
	mu sync.Mutex

	// Set by RegisterTable. pos and db are atomics because snapshots taken
	// before registration may be read while it happens; txnDuration is
	// set before db is published.
	db          atomic.Pointer[DB]
	pos         atomic.Int32
	txnDuration prometheus.Observer

	// empty is what a snapshot taken before registration sees.
	empty *tableEntry

	// primaryKey recomputes an object's primary key, for graveyard collection.
	primaryKey func(any) index.Key
	// fromString parses a textual key for the index at a position.
	fromString func(pos int, s string) (index.Key, error)
	// header returns the table's column names, or nil if the objects are
	// not TableWritable.
	header func() []string

	trackersMu  sync.Mutex
	trackers    map[*deleteTracker]struct{}
	numTrackers atomic.Int32
}

func (b *tableBase) base() *tableBase { return b }

// Name returns the table's name.
func (b *tableBase) Name() TableName { return b.name }

// Indexes returns the names of the table's indexes, primary first.
func (b *tableBase) Indexes() []string { return slices.Clone(b.indexNames[primaryIndexPos:]) }

// NumObjects returns the number of objects in the table.
func (b *tableBase) NumObjects(txn ReadTxn) int { return txn.entry(b).numObjects }

// Revision returns the table's latest revision.
func (b *tableBase) Revision(txn ReadTxn) Revision { return txn.entry(b).revision }

// Initialized reports whether every initializer is done, and returns a
// channel closed when that becomes true.
func (b *tableBase) Initialized(txn ReadTxn) (bool, <-chan struct{}) {
	init := txn.entry(b).init
	if init == nil || len(init.pending) == 0 {
		return true, closedChan
	}
	return false, init.watch
}

// PendingInitializers lists the initializers that are not done.
func (b *tableBase) PendingInitializers(txn ReadTxn) []string {
	if init := txn.entry(b).init; init != nil {
		return slices.Clone(init.pending)
	}
	return nil
}

// numDeleted is the number of tombstones kept for change iterators.
func (b *tableBase) numDeleted(txn ReadTxn) int { return txn.entry(b).numDeleted }

// anyObjects iterates the objects in primary key order without knowing
// their type, for the HTTP handler.
func (b *tableBase) anyObjects(txn ReadTxn) iter.Seq2[any, Revision] {
	tree := txn.entry(b).iterTree(primaryIndexPos)
	return func(yield func(any, Revision) bool) {
		for _, o := range tree.All() {
			if !yield(o.data, o.revision) {
				return
			}
		}
	}
}

// anyQuery returns the objects whose key in the named index (the primary
// index if empty) equals the key parsed from text, for the HTTP handler.
func (b *tableBase) anyQuery(txn ReadTxn, indexName, key string) (iter.Seq2[any, Revision], error) {
	pos := primaryIndexPos
	if indexName != "" {
		pos = slices.Index(b.indexNames, indexName)
		if pos < primaryIndexPos {
			return nil, fmt.Errorf("table %q has no index %q; its indexes are: %s",
				b.name, indexName, strings.Join(b.indexNames[primaryIndexPos:], ", "))
		}
	}
	k, err := b.fromString(pos, key)
	if err != nil {
		return nil, err
	}
	tree := txn.entry(b).iterTree(pos)
	unique := b.unique[pos]
	return func(yield func(any, Revision) bool) {
		if unique {
			if o, ok := tree.Get(k); ok {
				yield(o.data, o.revision)
			}
			return
		}
		seq, _ := tree.Prefix(k)
		for ek, o := range seq {
			if secondaryLen(ek) == len(k) && !yield(o.data, o.revision) {
				return
			}
		}
	}, nil
}

func (b *tableBase) newEntry() *tableEntry {
	e := &tableEntry{
		meta:    b,
		indexes: make([]art.Tree[*object], len(b.indexNames)),
		watch:   make(chan struct{}),
	}
	for i := range e.indexes {
		e.indexes[i] = art.New[*object]()
	}
	return e
}

var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// object is how a row is stored: the user's object and the revision it
// was written at.
type object struct {
	data     any
	revision Revision
}

var tableNameRe = regexp.MustCompile(`^[a-z][a-z0-9_\-]{0,63}$`)

// NewTable creates a table of objects of type T with the given indexes. The
// table is usable once registered with [DB.RegisterTable].
//
// Names are lower-case letters, digits, '-' and '_', starting with a
// letter (they appear in URLs and metric labels). Returns [ErrInvalidTable],
// [ErrPrimaryIndexNotUnique] or [ErrDuplicateIndex], wrapped with the table
// name.
func NewTable[T any](name TableName, primary Indexer[T], secondary ...Indexer[T]) (RWTable[T], error) {
	if !tableNameRe.MatchString(name) {
		return nil, fmt.Errorf("table %q: name must match %s: %w", name, tableNameRe, ErrInvalidTable)
	}
	if primary == nil {
		return nil, fmt.Errorf("table %q: no primary index: %w", name, ErrInvalidTable)
	}
	if !primary.isUnique() {
		return nil, fmt.Errorf("table %q: index %q: %w", name, primary.IndexName(), ErrPrimaryIndexNotUnique)
	}
	t := &genTable[T]{
		primary:   primary,
		secondary: secondary,
	}
	t.name = name
	t.meta = t
	t.pos.Store(-1)
	t.indexNames = []string{"__graveyard__", primary.IndexName()}
	t.unique = []bool{true, true}
	t.indexers = []Indexer[T]{nil, primary}
	for _, idx := range secondary {
		n := idx.IndexName()
		if n == "" || slices.Contains(t.indexNames, n) {
			return nil, fmt.Errorf("table %q: index %q: %w", name, n, ErrDuplicateIndex)
		}
		t.indexNames = append(t.indexNames, n)
		t.unique = append(t.unique, idx.isUnique())
		t.indexers = append(t.indexers, idx)
	}
	t.primaryKey = func(a any) index.Key { return primary.objectKeys(a.(T)).First() }
	t.fromString = func(pos int, s string) (index.Key, error) { return t.indexers[pos].fromString(s) }
	t.header = tableHeaderOf[T]()
	t.trackers = map[*deleteTracker]struct{}{}
	t.empty = t.newEntry()
	t.txnDuration = nopObserver{}
	return t, nil
}

// MustNewTable is NewTable that panics on error, for package-level tables
// whose definition is fixed at compile time.
func MustNewTable[T any](name TableName, primary Indexer[T], secondary ...Indexer[T]) RWTable[T] {
	t, err := NewTable(name, primary, secondary...)
	if err != nil {
		panic(err)
	}
	return t
}

// tableHeaderOf returns the column names of T if it is TableWritable. The
// header is taken from T's zero value; a TableHeader that dereferences a
// nil receiver is tolerated and yields no header.
func tableHeaderOf[T any]() func() []string {
	var zero T
	tw, ok := any(zero).(TableWritable)
	if !ok {
		return nil
	}
	return func() (cols []string) {
		defer func() {
			if recover() != nil {
				cols = nil
			}
		}()
		return tw.TableHeader()
	}
}

type nopObserver struct{}

func (nopObserver) Observe(float64) {}

// genTable is the RWTable implementation.
type genTable[T any] struct {
	tableBase
	primary   Indexer[T]
	secondary []Indexer[T]
	// indexers is parallel to indexNames; nil for internal indexes.
	indexers []Indexer[T]
}

func (t *genTable[T]) ToTable() Table[T]          { return t }
func (t *genTable[T]) PrimaryIndexer() Indexer[T] { return t.primary }

func (t *genTable[T]) String() string { return "statedb.Table[" + t.name + "]" }

// indexPos returns the position of a user index. Queries are built from
// an Index of the table's type, so an unknown name is a wiring bug.
func (t *genTable[T]) indexPos(name string) int {
	for i := primaryIndexPos; i < len(t.indexNames); i++ {
		if t.indexNames[i] == name {
			return i
		}
	}
	panic(fmt.Sprintf("statedb: table %q has no index %q", t.name, name))
}
