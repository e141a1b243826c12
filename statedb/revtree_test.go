package statedb

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRevTreeAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var tree revTree
	model := map[Revision]*object{}
	var snapshots []revTree
	var snapModels []map[Revision]*object
	next := Revision(1)
	var live []Revision // the model's keys, for picking one to delete
	for round := range 200 {
		owner := &revOwner{}
		for range rng.IntN(100) + 1 {
			if len(live) > 0 && rng.IntN(3) == 0 {
				k := rng.IntN(len(live))
				rev := live[k]
				live[k] = live[len(live)-1]
				live = live[:len(live)-1]
				if old := tree.set(owner, rev, nil); old != model[rev] {
					t.Fatalf("round %d: delete %d returned %v, want %v", round, rev, old, model[rev])
				}
				delete(model, rev)
				continue
			}
			// Mostly dense appends, sometimes a jump far ahead.
			if rng.IntN(50) == 0 {
				next += Revision(rng.IntN(1 << 20))
			}
			o := &object{revision: next}
			tree.set(owner, next, o)
			model[next] = o
			live = append(live, next)
			next++
		}
		if tree.len() != len(model) {
			t.Fatalf("round %d: len %d, want %d", round, tree.len(), len(model))
		}
		want := slices.Sorted(maps.Keys(model))
		var got []Revision
		for o := range tree.from(0) {
			got = append(got, o.revision)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: from(0) = %d items, want %d", round, len(got), len(want))
		}
		// Stepping with ceil visits what from(0) does, from any start.
		got = got[:0]
		for o := tree.ceil(0); o != nil; o = tree.ceil(o.revision + 1) {
			got = append(got, o.revision)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: stepping with ceil = %d items, want %d", round, len(got), len(want))
		}
		for range 10 {
			r := Revision(rng.Uint64N(uint64(next) + 2))
			i, _ := slices.BinarySearch(want, r)
			o := tree.ceil(r)
			if i == len(want) && o != nil || i < len(want) && (o == nil || o.revision != want[i]) {
				t.Fatalf("round %d: ceil(%d) = %v", round, r, o)
			}
		}
		got = got[:0]
		if len(want) > 0 {
			mid := want[len(want)/2]
			got = got[:0]
			for o := range tree.from(mid) {
				got = append(got, o.revision)
			}
			if !slices.Equal(got, want[len(want)/2:]) {
				t.Fatalf("round %d: from(%d) wrong", round, mid)
			}
			if o, ok := tree.last(); !ok || o.revision != want[len(want)-1] {
				t.Fatalf("round %d: last = %v, want %d", round, o, want[len(want)-1])
			}
		} else if _, ok := tree.last(); ok {
			t.Fatalf("round %d: last of an empty tree", round)
		}
		snapshots = append(snapshots, tree)
		snapModels = append(snapModels, maps.Clone(model))
	}
	// Later writers never mutated an earlier snapshot.
	for i, snap := range snapshots {
		var got []Revision
		for o := range snap.from(0) {
			got = append(got, o.revision)
		}
		if want := slices.Sorted(maps.Keys(snapModels[i])); !slices.Equal(got, want) {
			t.Fatalf("snapshot %d changed: %d items, want %d", i, len(got), len(want))
		}
	}
}
