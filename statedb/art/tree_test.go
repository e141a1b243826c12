package art

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// snapshot is a committed tree with the model it must keep matching.
type snapshot struct {
	tree  Tree[int]
	model map[string]int
}

func randomKey(rng *rand.Rand) []byte {
	// Short keys over a small alphabet make shared prefixes, splits and
	// merges common; a wide first byte makes 256-slot nodes.
	n := rng.IntN(5)
	k := []byte{byte(rng.IntN(40))}
	for range n {
		k = append(k, "abc"[rng.IntN(3)])
	}
	return k
}

// check compares every read of the tree with the model.
func check(t *testing.T, what string, tree Tree[int], model map[string]int, rng *rand.Rand) {
	t.Helper()
	if tree.Len() != len(model) {
		t.Fatalf("%s: Len = %d, model has %d", what, tree.Len(), len(model))
	}
	want := slices.Sorted(maps.Keys(model))
	var got []string
	for k, v := range tree.All() {
		got = append(got, string(k))
		if model[string(k)] != v {
			t.Fatalf("%s: All: %q = %d, want %d", what, k, v, model[string(k)])
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: All = %q, want %q", what, got, want)
	}
	for k, v := range model {
		if got, ok := tree.Get([]byte(k)); !ok || got != v {
			t.Fatalf("%s: Get(%q) = %d, %v, want %d", what, k, got, ok, v)
		}
		if got, ok, _ := tree.GetWatch([]byte(k)); !ok || got != v {
			t.Fatalf("%s: GetWatch(%q) = %d, %v, want %d", what, k, got, ok, v)
		}
	}
	for range 5 {
		k := randomKey(rng)
		k = k[:rng.IntN(len(k)+1)]
		if _, ok := model[string(k)]; !ok {
			if _, found := tree.Get(k); found {
				t.Fatalf("%s: Get(%q) found a missing key", what, k)
			}
		}
		var wantPrefix, wantLower []string
		for _, mk := range want {
			if strings.HasPrefix(mk, string(k)) {
				wantPrefix = append(wantPrefix, mk)
			}
			if mk >= string(k) {
				wantLower = append(wantLower, mk)
			}
		}
		seq, _ := tree.Prefix(k)
		if got := keysOf(seq); !slices.Equal(got, wantPrefix) {
			t.Fatalf("%s: Prefix(%q) = %q, want %q", what, k, got, wantPrefix)
		}
		if got := keysOf(tree.LowerBound(k)); !slices.Equal(got, wantLower) {
			t.Fatalf("%s: LowerBound(%q) = %q, want %q", what, k, got, wantLower)
		}
	}
}

func keysOf(seq func(func([]byte, int) bool)) []string {
	var out []string
	for k := range seq {
		out = append(out, string(k))
	}
	return out
}

// TestAgainstMap applies random inserts, deletes and delete-alls to the
// tree and to a map, and checks after every commit that every read agrees,
// that the transaction saw its own writes, that trees frozen half way and
// older snapshots never change, and that the watch channel of every key
// whose value changed was closed.
func TestAgainstMap(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { testAgainstMap(t, seed) })
	}
}

func testAgainstMap(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	tree := New[int]()
	model := map[string]int{}
	var old []snapshot
	val := 0
	for round := range 400 {
		// Watch every key the round may touch, in the committed tree.
		watches := map[string]<-chan struct{}{}
		prefixWatches := map[string]<-chan struct{}{}
		for range 20 {
			k := randomKey(rng)
			_, _, w := tree.GetWatch(k)
			watches[string(k)] = w
			p := k[:rng.IntN(len(k)+1)]
			_, pw := tree.Prefix(p)
			prefixWatches[string(p)] = pw
		}
		before := maps.Clone(model)

		txn := tree.Txn()
		var frozen *snapshot
		for i := range rng.IntN(30) + 1 {
			k := randomKey(rng)
			switch op := rng.IntN(100); {
			case op < 55:
				val++
				old, had := txn.Insert(k, val)
				if mo, mhad := model[string(k)]; had != mhad || old != mo {
					t.Fatalf("round %d: Insert(%q) replaced %d, %v; model had %d, %v", round, k, old, had, mo, mhad)
				}
				model[string(k)] = val
			case op < 98:
				old, had := txn.Delete(k)
				if mo, mhad := model[string(k)]; had != mhad || old != mo {
					t.Fatalf("round %d: Delete(%q) removed %d, %v; model had %d, %v", round, k, old, had, mo, mhad)
				}
				delete(model, string(k))
			default:
				txn.DeleteAll()
				clear(model)
			}
			if got, ok := txn.Get(k); ok != (model[string(k)] != 0) || got != model[string(k)] {
				t.Fatalf("round %d: txn does not see its write of %q: %d, %v", round, k, got, ok)
			}
			if txn.Len() != len(model) {
				t.Fatalf("round %d: txn.Len = %d, want %d", round, txn.Len(), len(model))
			}
			if i == 10 && frozen == nil {
				frozen = &snapshot{txn.Freeze(), maps.Clone(model)}
			}
		}
		if rng.IntN(8) == 0 {
			// Aborted: the transaction is dropped, nothing is notified.
			model = before
			for k, w := range watches {
				if isClosed(w) {
					t.Fatalf("round %d: watch of %q closed by an aborted transaction", round, k)
				}
			}
			continue
		}
		tree = txn.Commit()
		txn.Notify()
		check(t, fmt.Sprint("round ", round), tree, model, rng)
		if frozen != nil {
			check(t, fmt.Sprint("round ", round, " frozen half way"), frozen.tree, frozen.model, rng)
		}
		for k, w := range watches {
			if before[k] != model[k] && !isClosed(w) {
				t.Fatalf("round %d: %q changed from %d to %d but its watch channel is open", round, k, before[k], model[k])
			}
		}
		for p, w := range prefixWatches {
			changed := false
			for k := range model {
				changed = changed || (strings.HasPrefix(k, p) && before[k] != model[k])
			}
			for k := range before {
				changed = changed || (strings.HasPrefix(k, p) && before[k] != model[k])
			}
			if changed && !isClosed(w) {
				t.Fatalf("round %d: keys under prefix %q changed but its watch channel is open", round, p)
			}
		}
		if round%20 == 0 {
			old = append(old, snapshot{tree, maps.Clone(model)})
		}
		for i, s := range old {
			if rng.IntN(10) == 0 {
				check(t, fmt.Sprint("round ", round, " snapshot ", i), s.tree, s.model, rng)
			}
		}
	}
}

// TestWatchOnlyOnChange checks that committing writes to some keys leaves
// open the watch channels of keys far from them.
func TestWatchOnlyOnChange(t *testing.T) {
	txn := New[int]().Txn()
	for i := range 1000 {
		txn.Insert(fmt.Appendf(nil, "key-%04d", i), i)
	}
	tree := txn.Commit()
	txn.Notify()
	_, _, w := tree.GetWatch([]byte("key-0500"))
	_, _, wMissing := tree.GetWatch([]byte("key-0500x"))
	_, pw := tree.Prefix([]byte("key-05"))
	_, _, wOther := tree.GetWatch([]byte("key-0999"))

	txn = tree.Txn()
	txn.Insert([]byte("key-0999"), -1)
	txn.Delete([]byte("key-0001"))
	txn.Insert([]byte("other"), 1)
	tree = txn.Commit()
	txn.Notify()
	if isClosed(w) || isClosed(wMissing) || isClosed(pw) {
		t.Fatal("watch channels of untouched keys closed")
	}
	if !isClosed(wOther) {
		t.Fatal("watch channel of a changed key open")
	}

	txn = tree.Txn()
	txn.Insert([]byte("key-0500x"), 1)
	tree = txn.Commit()
	txn.Notify()
	if !isClosed(wMissing) || !isClosed(pw) {
		t.Fatal("watch of an added key or its prefix open")
	}

	_, _, w = tree.GetWatch([]byte("key-0001"))
	txn = tree.Txn()
	txn.DeleteAll()
	txn.Commit()
	txn.Notify()
	if !isClosed(w) {
		t.Fatal("DeleteAll left a watch channel open")
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// FuzzTree interprets the input as operations and checks the result
// against a map.
func FuzzTree(f *testing.F) {
	f.Add([]byte("\x00ab\x01a\x00abc\x02\x00b"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		tree := New[int]()
		txn := tree.Txn()
		model := map[string]int{}
		for i := 0; i+1 < len(ops); {
			op, n := ops[i]%4, int(ops[i+1]%6)
			i += 2
			k := ops[i:min(i+n, len(ops))]
			i += len(k)
			k = bytes.Clone(k)
			switch op {
			case 0, 1:
				txn.Insert(k, i)
				model[string(k)] = i
			case 2:
				txn.Delete(k)
				delete(model, string(k))
			case 3:
				tree = txn.Commit()
				txn.Notify()
				check(t, "fuzz", tree, model, rand.New(rand.NewPCG(1, 1)))
			}
		}
		check(t, "fuzz end", txn.Commit(), model, rand.New(rand.NewPCG(1, 1)))
	})
}
