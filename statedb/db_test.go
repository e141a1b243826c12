package statedb

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hivenet/hivenet/statedb/index"
)

// testObject is a row of the test table: a unique ID, a name and tags.
type testObject struct {
	ID   uint64
	Name string
	Tags []string
}

func (o *testObject) TableHeader() []string { return []string{"ID", "Name", "Tags"} }
func (o *testObject) TableRow() []string {
	return []string{fmt.Sprint(o.ID), o.Name, strings.Join(o.Tags, ",")}
}

var (
	idIndex = Index[*testObject, uint64]{
		Name:       "id",
		FromObject: func(o *testObject) index.KeySet { return index.NewKeySet(index.Uint64(o.ID)) },
		FromKey:    index.Uint64,
		FromString: index.Uint64String,
		Unique:     true,
	}
	nameIndex = Index[*testObject, string]{
		Name:       "name",
		FromObject: func(o *testObject) index.KeySet { return index.NewKeySet(index.String(o.Name)) },
		FromKey:    index.String,
		Unique:     true,
	}
	tagsIndex = Index[*testObject, string]{
		Name:       "tags",
		FromObject: func(o *testObject) index.KeySet { return index.StringSlice(o.Tags) },
		FromKey:    index.String,
		Unique:     false,
	}
)

func newTestDB(t testing.TB, secondary ...Indexer[*testObject]) (*DB, RWTable[*testObject]) {
	t.Helper()
	db := New()
	table, err := NewTable("test", idIndex, secondary...)
	if err != nil {
		t.Fatalf("NewTable: %v", err)
	}
	if err := db.RegisterTable(table); err != nil {
		t.Fatalf("RegisterTable: %v", err)
	}
	return db, table
}

func mustInsert(t testing.TB, db *DB, table RWTable[*testObject], objs ...*testObject) ReadTxn {
	t.Helper()
	wtxn := db.WriteTxn(table)
	defer wtxn.Abort()
	for _, o := range objs {
		if _, _, err := table.Insert(wtxn, o); err != nil {
			t.Fatalf("Insert(%v): %v", o, err)
		}
	}
	return wtxn.Commit()
}

func ids(seq func(func(*testObject, Revision) bool)) []uint64 {
	var out []uint64
	for o := range seq {
		out = append(out, o.ID)
	}
	return out
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestInsertGetDelete(t *testing.T) {
	db, table := newTestDB(t, nameIndex, tagsIndex)

	txn := mustInsert(t, db, table,
		&testObject{ID: 1, Name: "one", Tags: []string{"odd"}},
		&testObject{ID: 2, Name: "two", Tags: []string{"even", "prime"}},
		&testObject{ID: 3, Name: "three", Tags: []string{"odd", "prime"}},
	)
	if n := table.NumObjects(txn); n != 3 {
		t.Fatalf("NumObjects = %d, want 3", n)
	}
	if r := table.Revision(txn); r != 3 {
		t.Fatalf("Revision = %d, want 3", r)
	}
	o, rev, found := table.Get(txn, idIndex.Query(2))
	if !found || o.Name != "two" || rev != 2 {
		t.Fatalf("Get(2) = %v, %d, %v", o, rev, found)
	}
	if o, _, found := table.Get(txn, nameIndex.Query("three")); !found || o.ID != 3 {
		t.Fatalf("Get(name=three) = %v, %v", o, found)
	}
	if _, _, found := table.Get(txn, idIndex.Query(4)); found {
		t.Fatal("Get(4) found a missing object")
	}
	if got := ids(table.List(txn, tagsIndex.Query("prime"))); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("List(prime) = %v", got)
	}
	// "prim" is a prefix of "prime" but not an exact key.
	if got := ids(table.List(txn, tagsIndex.Query("prim"))); len(got) != 0 {
		t.Fatalf("List(prim) = %v, want none", got)
	}
	if got := ids(table.Prefix(txn, tagsIndex.Query("pri"))); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("Prefix(pri) = %v", got)
	}
	if got := ids(table.All(txn)); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("All = %v", got)
	}
	if got := ids(table.LowerBound(txn, idIndex.Query(2))); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("LowerBound(2) = %v", got)
	}

	// Update 2: its old tags and name must stop finding it.
	txn = mustInsert(t, db, table, &testObject{ID: 2, Name: "deux", Tags: []string{"even"}})
	if got := ids(table.List(txn, tagsIndex.Query("prime"))); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("after update List(prime) = %v", got)
	}
	if _, _, found := table.Get(txn, nameIndex.Query("two")); found {
		t.Fatal("old name still indexed after update")
	}
	if _, rev, _ := table.Get(txn, nameIndex.Query("deux")); rev != 4 {
		t.Fatalf("updated revision = %d, want 4", rev)
	}

	wtxn := db.WriteTxn(table)
	old, hadOld, err := table.Delete(wtxn, &testObject{ID: 3})
	if err != nil || !hadOld || old.Name != "three" {
		t.Fatalf("Delete(3) = %v, %v, %v", old, hadOld, err)
	}
	if _, hadOld, err := table.Delete(wtxn, &testObject{ID: 3}); err != nil || hadOld {
		t.Fatalf("second Delete(3) = %v, %v", hadOld, err)
	}
	txn = wtxn.Commit()
	if got := ids(table.List(txn, tagsIndex.Query("odd"))); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("after delete List(odd) = %v", got)
	}
	if n := table.NumObjects(txn); n != 2 {
		t.Fatalf("NumObjects = %d, want 2", n)
	}
}

func TestSnapshotIsolationAndAbort(t *testing.T) {
	db, table := newTestDB(t)
	before := db.ReadTxn()
	wtxn := db.WriteTxn(table)
	table.Insert(wtxn, &testObject{ID: 1})
	// The write transaction sees its own write, others do not.
	if _, _, found := table.Get(wtxn, idIndex.Query(1)); !found {
		t.Fatal("WriteTxn does not see its own insert")
	}
	if _, _, found := table.Get(db.ReadTxn(), idIndex.Query(1)); found {
		t.Fatal("uncommitted insert visible to a ReadTxn")
	}
	wtxn.Abort()
	if _, _, found := table.Get(db.ReadTxn(), idIndex.Query(1)); found {
		t.Fatal("aborted insert visible")
	}
	if _, _, err := table.Insert(wtxn, &testObject{ID: 2}); !errors.Is(err, ErrTransactionClosed) {
		t.Fatalf("Insert after Abort: err = %v, want ErrTransactionClosed", err)
	}
	wtxn.Commit() // no-op after Abort

	mustInsert(t, db, table, &testObject{ID: 1})
	if table.NumObjects(before) != 0 {
		t.Fatal("old snapshot changed")
	}
}

func TestIterateWhileWriting(t *testing.T) {
	db, table := newTestDB(t, tagsIndex)
	var objs []*testObject
	for i := range 200 {
		objs = append(objs, &testObject{ID: uint64(i), Tags: []string{"a"}})
	}
	mustInsert(t, db, table, objs...)

	wtxn := db.WriteTxn(table)
	defer wtxn.Abort()
	n := 0
	for o := range table.List(wtxn, tagsIndex.Query("a")) {
		table.Insert(wtxn, &testObject{ID: o.ID + 1000, Tags: []string{"a"}})
		table.Delete(wtxn, o)
		n++
	}
	if n != 200 {
		t.Fatalf("iterated %d objects while writing, want 200", n)
	}
	if c := table.NumObjects(wtxn); c != 200 {
		t.Fatalf("NumObjects = %d, want 200", c)
	}
}

func TestNotLocked(t *testing.T) {
	db, table := newTestDB(t)
	other := MustNewTable("other", idIndex)
	if err := db.RegisterTable(other); err != nil {
		t.Fatal(err)
	}
	wtxn := db.WriteTxn(other)
	defer wtxn.Abort()
	if _, _, err := table.Insert(wtxn, &testObject{ID: 1}); !errors.Is(err, ErrTableNotLockedForWriting) {
		t.Fatalf("err = %v, want ErrTableNotLockedForWriting", err)
	}
	if err := db.RegisterTable(MustNewTable("other", idIndex)); !errors.Is(err, ErrDuplicateTable) {
		t.Fatalf("duplicate register err = %v", err)
	}
}

func TestNewTableErrors(t *testing.T) {
	nonUnique := idIndex
	nonUnique.Unique = false
	if _, err := NewTable("t", nonUnique); !errors.Is(err, ErrPrimaryIndexNotUnique) {
		t.Fatalf("err = %v, want ErrPrimaryIndexNotUnique", err)
	}
	if _, err := NewTable("t", idIndex, idIndex); !errors.Is(err, ErrDuplicateIndex) {
		t.Fatalf("err = %v, want ErrDuplicateIndex", err)
	}
	if _, err := NewTable("Bad Name", idIndex); !errors.Is(err, ErrInvalidTable) {
		t.Fatalf("err = %v, want ErrInvalidTable", err)
	}
}

func TestRegisterLater(t *testing.T) {
	db, table := newTestDB(t)
	early := db.ReadTxn()
	mustInsert(t, db, table, &testObject{ID: 1})
	late := MustNewTable("late", idIndex)
	// A snapshot from before registration sees the new table as empty.
	if n := late.NumObjects(early); n != 0 {
		t.Fatalf("NumObjects(early) = %d", n)
	}
	if err := db.RegisterTable(late); err != nil {
		t.Fatal(err)
	}
	wtxn := db.WriteTxn(late, table)
	late.Insert(wtxn, &testObject{ID: 7})
	table.Insert(wtxn, &testObject{ID: 8})
	txn := wtxn.Commit()
	if got := ids(late.All(txn)); !slices.Equal(got, []uint64{7}) {
		t.Fatalf("late.All = %v", got)
	}
	if got := ids(table.All(txn)); !slices.Equal(got, []uint64{1, 8}) {
		t.Fatalf("table.All = %v", got)
	}
	names := []string{}
	for _, m := range db.Tables(txn) {
		names = append(names, m.Name())
	}
	if !slices.Equal(names, []string{"test", "late"}) {
		t.Fatalf("Tables = %v", names)
	}
}

func TestCompareAndSwapModify(t *testing.T) {
	db, table := newTestDB(t)
	mustInsert(t, db, table, &testObject{ID: 1, Name: "a"})

	wtxn := db.WriteTxn(table)
	defer wtxn.Abort()
	if _, _, err := table.CompareAndSwap(wtxn, 5, &testObject{ID: 1}); !errors.Is(err, ErrRevisionNotEqual) {
		t.Fatalf("CAS wrong rev: %v", err)
	}
	if _, _, err := table.CompareAndSwap(wtxn, 1, &testObject{ID: 2}); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("CAS missing: %v", err)
	}
	if old, _, err := table.CompareAndSwap(wtxn, 1, &testObject{ID: 1, Name: "b"}); err != nil || old.Name != "a" {
		t.Fatalf("CAS: %v, %v", old, err)
	}
	table.Modify(wtxn, &testObject{ID: 1, Name: "c"}, func(old, new *testObject) *testObject {
		return &testObject{ID: old.ID, Name: old.Name + new.Name}
	})
	table.Modify(wtxn, &testObject{ID: 9, Name: "new"}, func(old, new *testObject) *testObject {
		t.Error("merge called without an old object")
		return new
	})
	o, rev, _ := table.Get(wtxn, idIndex.Query(1))
	if o.Name != "bc" || rev != 3 {
		t.Fatalf("after Modify: %v rev %d", o, rev)
	}
	if _, _, err := table.CompareAndDelete(wtxn, 2, o); !errors.Is(err, ErrRevisionNotEqual) {
		t.Fatalf("CompareAndDelete wrong rev: %v", err)
	}
	if _, hadOld, err := table.CompareAndDelete(wtxn, 3, o); err != nil || !hadOld {
		t.Fatalf("CompareAndDelete: %v %v", hadOld, err)
	}
	if err := table.DeleteAll(wtxn); err != nil {
		t.Fatal(err)
	}
	if n := table.NumObjects(wtxn); n != 0 {
		t.Fatalf("after DeleteAll NumObjects = %d", n)
	}
}

func TestWatchChannels(t *testing.T) {
	db, table := newTestDB(t, tagsIndex)
	mustInsert(t, db, table, &testObject{ID: 1, Tags: []string{"x"}}, &testObject{ID: 2})

	txn := db.ReadTxn()
	_, _, w1, _ := table.GetWatch(txn, idIndex.Query(1))
	_, _, w2, _ := table.GetWatch(txn, idIndex.Query(2))
	_, _, wMissing, found := table.GetWatch(txn, idIndex.Query(3))
	if found {
		t.Fatal("found missing object")
	}
	_, wList := table.ListWatch(txn, tagsIndex.Query("x"))
	_, wAll := table.AllWatch(txn)

	mustInsert(t, db, table, &testObject{ID: 1, Tags: []string{"y"}})
	if !closed(w1) || !closed(wList) || !closed(wAll) {
		t.Fatal("watch channels of the changed object not closed")
	}
	if closed(w2) {
		t.Fatal("watch channel of an unchanged object closed")
	}
	mustInsert(t, db, table, &testObject{ID: 3})
	if !closed(wMissing) {
		t.Fatal("watch channel of a missing object not closed when it appeared")
	}
}

func TestInitialized(t *testing.T) {
	db, table := newTestDB(t)
	if ok, _ := table.Initialized(db.ReadTxn()); !ok {
		t.Fatal("table without initializers not initialized")
	}
	wtxn := db.WriteTxn(table)
	done1 := table.RegisterInitializer(wtxn, "k8s")
	done2 := table.RegisterInitializer(wtxn, "restore")
	wtxn.Commit()

	ok, watch := table.Initialized(db.ReadTxn())
	if ok {
		t.Fatal("initialized with pending initializers")
	}
	if p := table.PendingInitializers(db.ReadTxn()); !slices.Equal(p, []string{"k8s", "restore"}) {
		t.Fatalf("pending = %v", p)
	}
	wtxn = db.WriteTxn(table)
	done1(wtxn)
	wtxn.Commit()
	if closed(watch) {
		t.Fatal("initialized watch closed with one initializer pending")
	}
	wtxn = db.WriteTxn(table)
	done2(wtxn)
	wtxn.Commit()
	if !closed(watch) {
		t.Fatal("initialized watch not closed")
	}
	if ok, _ := table.Initialized(db.ReadTxn()); !ok {
		t.Fatal("not initialized after all done")
	}
}

// TestConcurrentWriters runs writers to two tables and readers at once; the
// race detector checks the locking, the assertions check that every
// snapshot is consistent across tables written in one transaction.
func TestConcurrentWriters(t *testing.T) {
	db, a := newTestDB(t)
	b := MustNewTable("b", idIndex)
	if err := db.RegisterTable(b); err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range n {
				wtxn := db.WriteTxn(b, a)
				id := uint64(w*n + i)
				a.Insert(wtxn, &testObject{ID: id})
				b.Insert(wtxn, &testObject{ID: id})
				wtxn.Commit()
			}
		})
	}
	stop := make(chan struct{})
	var readErr error
	var rwg sync.WaitGroup
	rwg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			txn := db.ReadTxn()
			if a.NumObjects(txn) != b.NumObjects(txn) {
				readErr = fmt.Errorf("inconsistent snapshot: %d vs %d", a.NumObjects(txn), b.NumObjects(txn))
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	rwg.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
	if got := a.NumObjects(db.ReadTxn()); got != 2*n {
		t.Fatalf("NumObjects = %d, want %d", got, 2*n)
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestRegisterWhileReading registers tables while readers use snapshots
// taken before, for the race detector.
func TestRegisterWhileReading(t *testing.T) {
	db, _ := newTestDB(t)
	tables := make([]RWTable[*testObject], 20)
	for i := range tables {
		tables[i] = MustNewTable(fmt.Sprintf("t%d", i), idIndex)
	}
	before := db.ReadTxn()
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, tbl := range tables {
			if err := db.RegisterTable(tbl); err != nil {
				t.Error(err)
			}
		}
	})
	for range 100 {
		for _, tbl := range tables {
			if n := tbl.NumObjects(before); n != 0 {
				t.Fatalf("NumObjects = %d on a snapshot from before registration", n)
			}
			tbl.NumObjects(db.ReadTxn())
		}
	}
	wg.Wait()
	mustInsert(t, db, tables[19], &testObject{ID: 1})
	if n := tables[19].NumObjects(db.ReadTxn()); n != 1 {
		t.Fatalf("NumObjects = %d", n)
	}
}
