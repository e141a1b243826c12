package statedb

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// TestAgainstModel applies random writes to a table and to a plain map and
// checks after every transaction that the indexes, the counts and a change
// iterator's reconstruction all agree with the map.
func TestAgainstModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { testAgainstModel(t, seed) })
	}
}

func testAgainstModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	db, table := newTestDB(t, nameIndex, tagsIndex)
	wtxn := db.WriteTxn(table)
	it, _ := table.Changes(wtxn)
	wtxn.Commit()
	defer it.Close()

	model := map[uint64]*testObject{}
	seen := map[uint64]*testObject{} // rebuilt from the change iterator
	tags := []string{"a", "b", "ab", "c"}

	for round := range 300 {
		wtxn := db.WriteTxn(table)
		for range rng.IntN(20) + 1 {
			id := rng.Uint64N(50)
			switch op := rng.IntN(10); {
			case op < 6:
				o := &testObject{ID: id, Name: fmt.Sprintf("n%d-%d", id, round)}
				for _, tg := range tags {
					if rng.IntN(2) == 0 {
						o.Tags = append(o.Tags, tg)
					}
				}
				table.Insert(wtxn, o)
				model[id] = o
			case op < 9:
				table.Delete(wtxn, &testObject{ID: id})
				delete(model, id)
			default:
				if rng.IntN(10) == 0 {
					table.DeleteAll(wtxn)
					clear(model)
				}
			}
		}
		if rng.IntN(5) == 0 {
			wtxn.Abort()
			// Undo the model: rebuild it from the committed table.
			clear(model)
			for o := range table.All(db.ReadTxn()) {
				model[o.ID] = o
			}
		} else {
			wtxn.Commit()
		}
		if rng.IntN(3) == 0 {
			db.CollectGraveyard()
		}
		txn := db.ReadTxn()

		if n := table.NumObjects(txn); n != len(model) {
			t.Fatalf("round %d: NumObjects = %d, model has %d", round, n, len(model))
		}
		if got, want := ids(table.All(txn)), slices.Sorted(maps.Keys(model)); !slices.Equal(got, want) {
			t.Fatalf("round %d: All = %v, want %v", round, got, want)
		}
		for _, tg := range tags {
			var want []uint64
			for id, o := range model {
				if slices.Contains(o.Tags, tg) {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			if got := ids(table.List(txn, tagsIndex.Query(tg))); !slices.Equal(got, want) {
				t.Fatalf("round %d: List(tags=%s) = %v, want %v", round, tg, got, want)
			}
		}
		for id, o := range model {
			if got, _, ok := table.Get(txn, nameIndex.Query(o.Name)); !ok || got != o {
				t.Fatalf("round %d: Get(name=%s) = %v, %v", round, o.Name, got, ok)
			}
			if _, _, ok := table.Get(txn, idIndex.Query(id)); !ok {
				t.Fatalf("round %d: Get(%d) not found", round, id)
			}
		}

		changes, _ := it.Next(txn)
		last := Revision(0)
		for c, rev := range changes {
			if rev <= last {
				t.Fatalf("round %d: change revisions not increasing: %d after %d", round, rev, last)
			}
			last = rev
			if c.Deleted {
				delete(seen, c.Object.ID)
			} else {
				seen[c.Object.ID] = c.Object
			}
		}
		if !maps.Equal(seen, model) {
			t.Fatalf("round %d: change iterator's view %v differs from the table %v", round, slices.Sorted(maps.Keys(seen)), slices.Sorted(maps.Keys(model)))
		}
	}
}

// TestConcurrentChanges runs a writer, a change consumer and the graveyard
// collector at once: the consumer must end with exactly the table's contents.
func TestConcurrentChanges(t *testing.T) {
	db, table := newTestDB(t)
	if err := db.Start(); err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	wtxn := db.WriteTxn(table)
	it, _ := table.Changes(wtxn)
	wtxn.Commit()
	defer it.Close()

	const rounds = 300
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		rng := rand.New(rand.NewPCG(3, 4))
		for range rounds {
			wtxn := db.WriteTxn(table)
			for range 10 {
				id := rng.Uint64N(30)
				if rng.IntN(3) == 0 {
					table.Delete(wtxn, &testObject{ID: id})
				} else {
					table.Insert(wtxn, &testObject{ID: id})
				}
			}
			wtxn.Commit()
		}
	})

	seen := map[uint64]bool{}
	finished := false
	for {
		changes, watch := it.Next(db.ReadTxn())
		for c := range changes {
			if c.Deleted {
				delete(seen, c.Object.ID)
			} else {
				seen[c.Object.ID] = true
			}
		}
		if finished {
			break
		}
		select {
		case <-watch:
		case <-done:
			// One more pass for what the writer committed last.
			finished = true
		}
	}
	wg.Wait()
	want := map[uint64]bool{}
	for o := range table.All(db.ReadTxn()) {
		want[o.ID] = true
	}
	if !maps.Equal(seen, want) {
		t.Fatalf("consumer saw %v, table has %v", slices.Sorted(maps.Keys(seen)), slices.Sorted(maps.Keys(want)))
	}
}
