package statedb

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestSnapshotIsolationMultiTable commits writes that keep two tables equal
// (same inserts, updates and deletes in one transaction) while readers
// compare the tables' full contents in every snapshot they take: a reader
// that saw one table's half of a commit would find them different.
func TestSnapshotIsolationMultiTable(t *testing.T) {
	db, a := newTestDB(t, tagsIndex)
	b := MustNewTable("b", idIndex, tagsIndex)
	if err := db.RegisterTable(b); err != nil {
		t.Fatal(err)
	}
	const rounds = 300
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		rng := rand.New(rand.NewPCG(7, 7))
		for round := range rounds {
			wtxn := db.WriteTxn(a, b)
			for range rng.IntN(8) + 1 {
				id := rng.Uint64N(40)
				if rng.IntN(3) == 0 {
					a.Delete(wtxn, &testObject{ID: id})
					b.Delete(wtxn, &testObject{ID: id})
					continue
				}
				o := &testObject{ID: id, Name: fmt.Sprint(round), Tags: []string{fmt.Sprint("t", id%3)}}
				a.Insert(wtxn, o)
				b.Insert(wtxn, o)
			}
			if rng.IntN(4) == 0 {
				wtxn.Abort()
			} else {
				wtxn.Commit()
			}
		}
	})

	errs := make(chan error, 2)
	for range 2 {
		wg.Go(func() {
			for snapshots := 0; ; snapshots++ {
				finished := false
				select {
				case <-done:
					finished = true
				default:
				}
				txn := db.ReadTxn()
				as, bs := objectsOf(a.All(txn)), objectsOf(b.All(txn))
				if !maps.Equal(as, bs) {
					errs <- fmt.Errorf("snapshot %d: table a has %v, table b has %v", snapshots, as, bs)
					return
				}
				for tag := range 3 {
					q := tagsIndex.Query(fmt.Sprint("t", tag))
					if ga, gb := ids(a.List(txn, q)), ids(b.List(txn, q)); !slices.Equal(ga, gb) {
						errs <- fmt.Errorf("snapshot %d: tag t%d: a lists %v, b lists %v", snapshots, tag, ga, gb)
						return
					}
				}
				if finished {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func objectsOf(seq func(func(*testObject, Revision) bool)) map[uint64]*testObject {
	m := map[uint64]*testObject{}
	for o := range seq {
		m[o.ID] = o
	}
	return m
}

// TestWatchChannelsOnlyOnChange checks that the channels a query hands out
// stay open through everything that does not change its result: aborted
// writes, writes to other keys and other tables, deletes of missing keys
// and commits that write nothing.
func TestWatchChannelsOnlyOnChange(t *testing.T) {
	db, table := newTestDB(t, nameIndex, tagsIndex)
	other := MustNewTable("other", idIndex)
	if err := db.RegisterTable(other); err != nil {
		t.Fatal(err)
	}
	mustInsert(t, db, table,
		&testObject{ID: 1, Name: "one", Tags: []string{"alpha"}},
		&testObject{ID: 2, Name: "two", Tags: []string{"beta"}},
		&testObject{ID: 3, Name: "three", Tags: []string{"beta"}},
	)

	txn := db.ReadTxn()
	_, _, wGet, _ := table.GetWatch(txn, idIndex.Query(1))
	_, _, wName, _ := table.GetWatch(txn, nameIndex.Query("one"))
	_, wList := table.ListWatch(txn, tagsIndex.Query("alpha"))
	_, wAll := table.AllWatch(txn)
	_, initWatch := table.Initialized(txn)
	wtxn := db.WriteTxn(table)
	it, _ := table.Changes(wtxn)
	wtxn.Commit()
	defer it.Close()
	for range mustNext(it, db.ReadTxn()) {
	}
	_, wChanges := it.Next(db.ReadTxn())

	all := map[string]<-chan struct{}{"GetWatch(id)": wGet, "GetWatch(name)": wName, "ListWatch(tags)": wList, "AllWatch": wAll, "Changes": wChanges}
	open := func(step string, chans ...string) {
		t.Helper()
		for _, name := range chans {
			if closed(all[name]) {
				t.Fatalf("after %s: %s closed", step, name)
			}
		}
	}
	everything := slices.Collect(maps.Keys(all))

	// An aborted write to the watched object.
	wtxn = db.WriteTxn(table)
	table.Insert(wtxn, &testObject{ID: 1, Name: "uno", Tags: []string{"gamma"}})
	table.Delete(wtxn, &testObject{ID: 2})
	wtxn.Abort()
	open("an aborted write", everything...)

	// A commit that wrote nothing, and one that deleted a missing key.
	db.WriteTxn(table).Commit()
	open("an empty commit", everything...)
	wtxn = db.WriteTxn(table)
	table.Delete(wtxn, &testObject{ID: 99})
	wtxn.Commit()
	open("deleting a missing object", everything...)

	// Writes to another table.
	wtxn = db.WriteTxn(other)
	other.Insert(wtxn, &testObject{ID: 1})
	wtxn.Commit()
	open("a write to another table", everything...)
	if initWatch != closedChan {
		t.Fatal("a table without initializers hands out an open Initialized channel")
	}

	// A write to another object of the same table changes the table (All,
	// Changes) but not the watched object, name or tag.
	mustInsert(t, db, table, &testObject{ID: 3, Name: "drei", Tags: []string{"beta"}})
	open("a write to another object", "GetWatch(id)", "GetWatch(name)", "ListWatch(tags)")
	if !closed(wAll) || !closed(wChanges) {
		t.Fatal("table-wide channels not closed by a write to the table")
	}

	// Now the watched object: every query on it fires.
	mustInsert(t, db, table, &testObject{ID: 1, Name: "uno", Tags: []string{"alpha"}})
	for _, name := range []string{"GetWatch(id)", "GetWatch(name)", "ListWatch(tags)"} {
		if !closed(all[name]) {
			t.Fatalf("%s not closed when the watched object changed", name)
		}
	}
}

func mustNext(it ChangeIterator[*testObject], txn ReadTxn) func(func(Change[*testObject], Revision) bool) {
	seq, _ := it.Next(txn)
	return seq
}

// TestDeletesObservedOnceByEveryTracker runs several change iterators,
// opened at different times and one closed half way, against random
// inserts and deletes while the graveyard collector runs. Every iterator
// must report each delete committed after it was opened exactly once, and
// none from before.
func TestDeletesObservedOnceByEveryTracker(t *testing.T) {
	db, table := newTestDB(t)
	db.gcInterval = time.Millisecond
	if err := db.Start(); err != nil {
		t.Fatal(err)
	}
	defer db.Stop()

	type tracker struct {
		it      ChangeIterator[*testObject]
		opened  int // round at which it was opened
		closeAt int
		deletes map[uint64]int
	}
	const rounds = 200
	var trackers []*tracker
	open := func(round, closeAt int) {
		wtxn := db.WriteTxn(table)
		it, err := table.Changes(wtxn)
		if err != nil {
			t.Fatal(err)
		}
		wtxn.Commit()
		trackers = append(trackers, &tracker{it: it, opened: round, closeAt: closeAt, deletes: map[uint64]int{}})
	}
	deletedAt := map[uint64]int{} // id -> round of its delete
	live := map[uint64]bool{}
	rng := rand.New(rand.NewPCG(11, 12))
	nextID := uint64(0)
	open(0, rounds+1)
	for round := range rounds {
		switch round {
		case 50:
			open(round, rounds+1)
		case 80:
			open(round, 150)
		}
		wtxn := db.WriteTxn(table)
		for range rng.IntN(10) + 1 {
			if len(live) > 0 && rng.IntN(2) == 0 {
				id := slices.Sorted(maps.Keys(live))[rng.IntN(len(live))]
				table.Delete(wtxn, &testObject{ID: id})
				delete(live, id)
				deletedAt[id] = round
			} else {
				// IDs are never reused, so a delete names one object.
				table.Insert(wtxn, &testObject{ID: nextID})
				live[nextID] = true
				nextID++
			}
		}
		wtxn.Commit()
		if rng.IntN(4) == 0 {
			db.CollectGraveyard()
		}
		for _, tr := range trackers {
			if round == tr.closeAt {
				tr.it.Close()
			}
			// Trackers read at different paces; the graveyard must keep
			// what the slow ones have not seen.
			if round >= tr.closeAt || rng.IntN(3) == 0 {
				continue
			}
			for c := range mustNext(tr.it, db.ReadTxn()) {
				if c.Deleted {
					tr.deletes[c.Object.ID]++
				}
			}
		}
	}
	for i, tr := range trackers {
		if tr.closeAt <= rounds {
			continue
		}
		for c := range mustNext(tr.it, db.ReadTxn()) {
			if c.Deleted {
				tr.deletes[c.Object.ID]++
			}
		}
		tr.it.Close()
		want := 0
		for id, round := range deletedAt {
			if round < tr.opened {
				if tr.deletes[id] != 0 {
					t.Errorf("tracker %d (opened at round %d) saw the delete of %d from round %d", i, tr.opened, id, round)
				}
				continue
			}
			want++
			if n := tr.deletes[id]; n != 1 {
				t.Errorf("tracker %d saw the delete of %d (round %d) %d times", i, id, round, n)
			}
		}
		if len(tr.deletes) != want {
			t.Errorf("tracker %d saw deletes of %d objects, want %d", i, len(tr.deletes), want)
		}
	}
	// With every iterator closed or caught up the graveyard empties.
	waitFor(t, "graveyard collection", func() bool {
		db.CollectGraveyard()
		return table.(*genTable[*testObject]).numDeleted(db.ReadTxn()) == 0
	})
}

// TestInitializerDoneInAbortedTxn checks that marking an initializer done in
// a transaction that is then aborted leaves it pending, so the writer can
// mark it again, and that a waiter in another goroutine wakes only when the
// last initializer is done.
func TestInitializerDoneInAbortedTxn(t *testing.T) {
	db, table := newTestDB(t)
	wtxn := db.WriteTxn(table)
	synced := table.RegisterInitializer(wtxn, "synced")
	restored := table.RegisterInitializer(wtxn, "restored")
	wtxn.Commit()

	_, watch := table.Initialized(db.ReadTxn())
	woke := make(chan []string)
	go func() {
		<-watch
		woke <- table.PendingInitializers(db.ReadTxn())
	}()

	wtxn = db.WriteTxn(table)
	synced(wtxn)
	wtxn.Abort()
	if p := table.PendingInitializers(db.ReadTxn()); !slices.Equal(p, []string{"synced", "restored"}) {
		t.Fatalf("after an aborted done: pending = %v", p)
	}
	wtxn = db.WriteTxn(table)
	synced(wtxn)
	synced(wtxn) // idempotent
	wtxn.Commit()
	if p := table.PendingInitializers(db.ReadTxn()); !slices.Equal(p, []string{"restored"}) {
		t.Fatalf("pending = %v, want [restored]", p)
	}
	select {
	case p := <-woke:
		t.Fatalf("waiter woke with %v still pending", p)
	default:
	}
	wtxn = db.WriteTxn(table)
	restored(wtxn)
	wtxn.Commit()
	select {
	case p := <-woke:
		if len(p) != 0 {
			t.Fatalf("waiter woke with %v pending", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter not woken when the last initializer was done")
	}
	if ok, _ := table.Initialized(db.ReadTxn()); !ok {
		t.Fatal("not initialized")
	}
}
