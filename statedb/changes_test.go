package statedb

import (
	"context"
	"slices"
	"testing"
	"time"
)

type seenChange struct {
	ID      uint64
	Deleted bool
}

func drain(it ChangeIterator[*testObject], txn ReadTxn) ([]seenChange, <-chan struct{}) {
	var out []seenChange
	changes, watch := it.Next(txn)
	for c := range changes {
		out = append(out, seenChange{c.Object.ID, c.Deleted})
	}
	return out, watch
}

func TestChanges(t *testing.T) {
	db, table := newTestDB(t)
	mustInsert(t, db, table, &testObject{ID: 1}, &testObject{ID: 2})

	wtxn := db.WriteTxn(table)
	it, err := table.Changes(wtxn)
	if err != nil {
		t.Fatal(err)
	}
	wtxn.Commit()
	defer it.Close()

	// First Next: the existing objects, in revision order.
	got, watch := drain(it, db.ReadTxn())
	if want := []seenChange{{1, false}, {2, false}}; !slices.Equal(got, want) {
		t.Fatalf("initial changes = %v, want %v", got, want)
	}
	if !closed(watch) {
		t.Fatal("Next with changes must return a closed channel")
	}
	got, watch = drain(it, db.ReadTxn())
	if len(got) != 0 || closed(watch) {
		t.Fatalf("no new changes: got %v, watch closed %v", got, closed(watch))
	}

	// Update 1, delete 2, insert 3, insert+delete 4 (seen only as deleted).
	wtxn = db.WriteTxn(table)
	table.Insert(wtxn, &testObject{ID: 1, Name: "updated"})
	table.Delete(wtxn, &testObject{ID: 2})
	table.Insert(wtxn, &testObject{ID: 3})
	table.Insert(wtxn, &testObject{ID: 4})
	table.Delete(wtxn, &testObject{ID: 4})
	// Changes made in an open write transaction are not reported.
	if got, _ := drain(it, wtxn); len(got) != 0 {
		t.Fatalf("uncommitted changes reported: %v", got)
	}
	wtxn.Commit()
	waitClosed(t, watch, "change watch channel")

	got, _ = drain(it, db.ReadTxn())
	want := []seenChange{{1, false}, {2, true}, {3, false}, {4, true}}
	if !slices.Equal(got, want) {
		t.Fatalf("changes = %v, want %v", got, want)
	}

	// Every tracker saw the deletes: collection frees the tombstones.
	if n := table.base().numDeleted(db.ReadTxn()); n != 2 {
		t.Fatalf("graveyard = %d, want 2", n)
	}
	if n := db.CollectGraveyard(); n != 2 {
		t.Fatalf("collected %d, want 2", n)
	}
	if n := table.base().numDeleted(db.ReadTxn()); n != 0 {
		t.Fatalf("graveyard after collection = %d", n)
	}
}

func TestChangesGraveyardHeldBySlowIterator(t *testing.T) {
	db, table := newTestDB(t)
	wtxn := db.WriteTxn(table)
	fast, _ := table.Changes(wtxn)
	slow, _ := table.Changes(wtxn)
	wtxn.Commit()

	mustInsert(t, db, table, &testObject{ID: 1})
	wtxn = db.WriteTxn(table)
	table.Delete(wtxn, &testObject{ID: 1})
	wtxn.Commit()

	drain(fast, db.ReadTxn())
	if n := db.CollectGraveyard(); n != 0 {
		t.Fatalf("collected %d tombstones the slow iterator has not seen", n)
	}
	got, _ := drain(slow, db.ReadTxn())
	if !slices.Equal(got, []seenChange{{1, true}}) {
		t.Fatalf("slow iterator saw %v", got)
	}

	// A re-insert removes the tombstone: the object is live again.
	wtxn = db.WriteTxn(table)
	table.Delete(wtxn, &testObject{ID: 5})
	table.Insert(wtxn, &testObject{ID: 1})
	wtxn.Commit()
	if n := table.base().numDeleted(db.ReadTxn()); n != 0 {
		t.Fatalf("graveyard after re-insert = %d", n)
	}

	// Closing the iterators releases everything; the collector runs by itself.
	if err := db.Start(); err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	wtxn = db.WriteTxn(table)
	table.Delete(wtxn, &testObject{ID: 1})
	wtxn.Commit()
	fast.Close()
	slow.Close()
	waitFor(t, "graveyard collected after iterators closed", func() bool {
		return table.base().numDeleted(db.ReadTxn()) == 0
	})
}

// waitFor polls cond until it holds or a deadline passes. For conditions
// reached by a background goroutine that closes no channel we could wait on.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestChangesNotLocked(t *testing.T) {
	db, table := newTestDB(t)
	other := MustNewTable("other", idIndex)
	db.RegisterTable(other)
	wtxn := db.WriteTxn(other)
	defer wtxn.Abort()
	if _, err := table.Changes(wtxn); err == nil {
		t.Fatal("Changes with a txn that does not lock the table succeeded")
	}
}

func TestDeleteAllTracked(t *testing.T) {
	db, table := newTestDB(t, tagsIndex)
	wtxn := db.WriteTxn(table)
	it, _ := table.Changes(wtxn)
	wtxn.Commit()
	defer it.Close()
	mustInsert(t, db, table,
		&testObject{ID: 1, Tags: []string{"a"}},
		&testObject{ID: 2, Tags: []string{"a"}},
		&testObject{ID: 3})
	drain(it, db.ReadTxn())

	_, _, w1, _ := table.GetWatch(db.ReadTxn(), idIndex.Query(1))
	_, wTags := table.ListWatch(db.ReadTxn(), tagsIndex.Query("a"))
	wtxn = db.WriteTxn(table)
	if err := table.DeleteAll(wtxn); err != nil {
		t.Fatal(err)
	}
	txn := wtxn.Commit()
	if !closed(w1) || !closed(wTags) {
		t.Fatal("DeleteAll did not close watch channels")
	}
	if n := table.NumObjects(txn); n != 0 {
		t.Fatalf("NumObjects = %d", n)
	}
	if got := ids(table.List(txn, tagsIndex.Query("a"))); len(got) != 0 {
		t.Fatalf("secondary index still finds %v", got)
	}
	if r := table.Revision(txn); r != 6 {
		t.Fatalf("Revision = %d, want 6 (one per delete)", r)
	}

	// Consume only the first delete: collection may free that one only.
	changes, _ := it.Next(db.ReadTxn())
	for c := range changes {
		if !c.Deleted || c.Object.ID != 1 || c.Revision != 4 {
			t.Fatalf("first change = %+v", c)
		}
		break
	}
	if n := db.CollectGraveyard(); n != 1 {
		t.Fatalf("collected %d, want 1", n)
	}
	got, _ := drain(it, db.ReadTxn())
	if want := []seenChange{{2, true}, {3, true}}; !slices.Equal(got, want) {
		t.Fatalf("remaining changes = %v, want %v", got, want)
	}
	if n := db.CollectGraveyard(); n != 2 {
		t.Fatalf("collected %d, want 2", n)
	}
	mustInsert(t, db, table, &testObject{ID: 1, Tags: []string{"a"}})
	if got := ids(table.List(db.ReadTxn(), tagsIndex.Query("a"))); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("after re-insert List(a) = %v", got)
	}
}

// TestDeleteAllAfterWriteInSameTxn is the case where DeleteAll empties
// indexes whose roots the same transaction already wrote.
func TestDeleteAllAfterWriteInSameTxn(t *testing.T) {
	db, table := newTestDB(t, tagsIndex)
	mustInsert(t, db, table, &testObject{ID: 1, Tags: []string{"a"}})
	_, _, w1, _ := table.GetWatch(db.ReadTxn(), idIndex.Query(1))
	_, wTag := table.ListWatch(db.ReadTxn(), tagsIndex.Query("a"))

	wtxn := db.WriteTxn(table)
	table.Insert(wtxn, &testObject{ID: 2, Tags: []string{"a"}})
	table.DeleteAll(wtxn)
	table.Insert(wtxn, &testObject{ID: 3, Tags: []string{"b"}})
	wtxn.Commit()
	if !closed(w1) || !closed(wTag) {
		t.Fatal("watchers of dropped objects not notified")
	}
	// The next write must not close channels a previous commit closed.
	_, _, w3, _ := table.GetWatch(db.ReadTxn(), idIndex.Query(3))
	mustInsert(t, db, table, &testObject{ID: 3, Tags: []string{"c"}})
	if !closed(w3) {
		t.Fatal("watcher of an updated object not notified")
	}
	if got := ids(table.All(db.ReadTxn())); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("All = %v", got)
	}
}
