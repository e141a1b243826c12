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
		owner := newRevOwner()
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

// TestRevTreeGrowsAndShrinks checks that the root follows the live range:
// one leaf while the objects fit in one, more levels for a far revision,
// and back to one leaf when the far one goes, with the contents intact.
func TestRevTreeGrowsAndShrinks(t *testing.T) {
	var tree revTree
	owner := newRevOwner()
	objs := map[Revision]*object{}
	put := func(rev Revision) {
		objs[rev] = &object{revision: rev}
		tree.set(owner, rev, objs[rev])
	}
	contents := func() []Revision {
		var out []Revision
		for o := range tree.from(0) {
			out = append(out, o.revision)
		}
		return out
	}
	for rev := Revision(1000); rev < 1010; rev++ {
		put(rev)
	}
	if tree.height != 0 {
		t.Fatalf("10 neighbouring revisions: height %d, want 0 (one leaf)", tree.height)
	}
	put(1 << 40)
	if tree.height < 2 {
		t.Fatalf("after a far revision: height %d", tree.height)
	}
	if o := tree.ceil(1010); o == nil || o.revision != 1<<40 {
		t.Fatalf("ceil(1010) = %v", o)
	}
	snapshot := tree
	tree.set(newRevOwner(), 1<<40, nil)
	if tree.height != 0 {
		t.Fatalf("after deleting the far revision: height %d, want 0", tree.height)
	}
	if got := contents(); len(got) != 10 || got[0] != 1000 || got[9] != 1009 {
		t.Fatalf("contents after shrinking: %v", got)
	}
	if o, _ := snapshot.last(); o.revision != 1<<40 {
		t.Fatal("snapshot changed by a later owner's delete")
	}
	for rev := Revision(1000); rev < 1010; rev++ {
		if old := tree.set(owner, rev, nil); old != objs[rev] {
			t.Fatalf("delete %d returned %v", rev, old)
		}
	}
	if tree.len() != 0 || tree.ceil(0) != nil {
		t.Fatal("tree not empty after deleting everything")
	}
}
