package bpfmap

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hivenet/hivenet/reconcilers"
)

type testKey struct {
	A, B uint32
}

type testValue struct {
	X uint64
}

type lpmKey struct {
	PrefixLen uint32
	Addr      [4]byte
}

type obj struct {
	id    uint32
	value uint64
}

func openMap[K comparable, V any](t *testing.T, spec Spec) *Map[K, V] {
	t.Helper()
	m, err := New[K, V](spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func dump[K comparable, V any](t *testing.T, m *Map[K, V]) map[K]V {
	t.Helper()
	out := map[K]V{}
	err := m.Walk(func(keys []K, values []V) error {
		for i := range keys {
			out[keys[i]] = values[i]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMapUpdateLookupDelete(t *testing.T) {
	m := openMap[testKey, testValue](t, Spec{Name: "hvrc_crud", Type: ebpf.Hash, MaxEntries: 16, PinDir: testPinDir(t)})
	k := testKey{1, 2}
	if err := m.Update(k, testValue{42}); err != nil {
		t.Fatal(err)
	}
	v, err := m.Lookup(k)
	if err != nil || v.X != 42 {
		t.Fatalf("Lookup = %v, %v; want 42", v, err)
	}
	if err := m.Delete(k); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lookup(k); !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Fatalf("Lookup after delete: %v, want ErrKeyNotExist", err)
	}
	if err := m.Delete(k); err != nil {
		t.Fatalf("deleting a missing key must succeed, got %v", err)
	}
}

func TestLayoutRejected(t *testing.T) {
	type padded struct {
		A uint8
		B uint32
	}
	if _, err := New[padded, uint32](Spec{Name: "x", Type: ebpf.Hash, MaxEntries: 1}, nil); !errors.Is(err, ErrLayout) {
		t.Fatalf("padded key: got %v, want ErrLayout", err)
	}
	type withPtr struct{ P *int }
	if _, err := New[uint32, withPtr](Spec{Name: "x", Type: ebpf.Hash, MaxEntries: 1}, nil); !errors.Is(err, ErrLayout) {
		t.Fatalf("pointer value: got %v, want ErrLayout", err)
	}
	if _, err := New[uint64, uint32](Spec{Name: "x", Type: ebpf.Array, MaxEntries: 1}, nil); !errors.Is(err, ErrLayout) {
		t.Fatalf("8-byte array key: got %v, want ErrLayout", err)
	}
	if _, err := New[uint32, uint32](Spec{Name: "x", Type: ebpf.LPMTrie, MaxEntries: 1}, nil); !errors.Is(err, ErrLayout) {
		t.Fatalf("4-byte LPM key: got %v, want ErrLayout", err)
	}
}

func TestPinDirMustBeBPFFS(t *testing.T) {
	m, err := New[uint32, uint32](Spec{Name: "hvrc_x", Type: ebpf.Hash, MaxEntries: 1, PinDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Open(); !errors.Is(err, ErrNotBPFFS) {
		m.Close()
		t.Fatalf("Open with a tmpfs pin dir: %v, want ErrNotBPFFS", err)
	}
}

func TestAdoptAndRecreate(t *testing.T) {
	dir := testPinDir(t)
	spec := Spec{Name: "hvrc_adopt", Type: ebpf.Hash, MaxEntries: 16, PinDir: dir}

	m1 := openMap[uint32, uint64](t, spec)
	if m1.Adopted() {
		t.Fatal("a fresh map must not count as adopted")
	}
	if err := m1.Update(7, 70); err != nil {
		t.Fatal(err)
	}
	m1.Close()
	if _, err := os.Stat(filepath.Join(dir, "hvrc_adopt")); err != nil {
		t.Fatalf("map not pinned: %v", err)
	}

	// Same layout: adopted with its contents.
	m2 := openMap[uint32, uint64](t, spec)
	if !m2.Adopted() {
		t.Fatal("same layout: want the pinned map adopted")
	}
	if v, err := m2.Lookup(7); err != nil || v != 70 {
		t.Fatalf("adopted map lost its contents: %v, %v", v, err)
	}
	m2.Close()

	// Value size changed: recreated empty and counted.
	before := testutil.ToFloat64(layoutChanges.WithLabelValues("hvrc_adopt"))
	m3 := openMap[uint32, uint32](t, spec)
	if m3.Adopted() {
		t.Fatal("changed layout: must not adopt")
	}
	if got := dump(t, m3); len(got) != 0 {
		t.Fatalf("recreated map should be empty, has %v", got)
	}
	if after := testutil.ToFloat64(layoutChanges.WithLabelValues("hvrc_adopt")); after != before+1 {
		t.Fatalf("layout change counted %v times, want 1", after-before)
	}
	if v := m3.EBPF().ValueSize(); v != 4 {
		t.Fatalf("recreated map value size %d, want 4", v)
	}
}

func TestUpdateBatchFallsBackPerKey(t *testing.T) {
	// A full hash map rejects new keys: the batch must store what fits and
	// report exactly the entries that did not.
	m := openMap[uint32, uint64](t, Spec{Name: "hvrc_full", Type: ebpf.Hash, MaxEntries: 10, PinDir: testPinDir(t)})
	keys := make([]uint32, 15)
	values := make([]uint64, 15)
	for i := range keys {
		keys[i], values[i] = uint32(i), uint64(i*10)
	}
	var failed []int
	m.UpdateBatch(keys, values, func(i int, err error) { failed = append(failed, i) })
	if want := []int{10, 11, 12, 13, 14}; !slices.Equal(failed, want) {
		t.Fatalf("failed entries %v, want %v", failed, want)
	}
	if got := dump(t, m); len(got) != 10 || got[9] != 90 {
		t.Fatalf("map holds %v, want keys 0..9", got)
	}

	// Updating existing keys of a full map works.
	values[3] = 333
	failed = nil
	m.UpdateBatch(keys[:10], values[:10], func(i int, err error) { failed = append(failed, i) })
	if len(failed) != 0 {
		t.Fatalf("update of existing keys failed at %v", failed)
	}
	if v, _ := m.Lookup(3); v != 333 {
		t.Fatalf("key 3 = %d, want 333", v)
	}
}

func TestDeleteBatchIgnoresMissingKeys(t *testing.T) {
	m := openMap[uint32, uint64](t, Spec{Name: "hvrc_del", Type: ebpf.Hash, MaxEntries: 100, PinDir: testPinDir(t)})
	for i := range uint32(10) {
		if err := m.Update(i, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	// 50 and 51 are missing, in the middle of the batch.
	del := []uint32{1, 2, 50, 3, 51, 4}
	m.DeleteBatch(del, func(i int, err error) { t.Errorf("delete %d: %v", del[i], err) })
	got := slices.Sorted(maps.Keys(dump(t, m)))
	if want := []uint32{0, 5, 6, 7, 8, 9}; !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
}

// TestOps10k reconciles 10k objects into each supported map type through the
// batch operations, reads them back, deletes some and prunes.
func TestOps10k(t *testing.T) {
	const n = 10_000
	dir := testPinDir(t)
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.LRUHash, ebpf.LPMTrie} {
		t.Run(typ.String(), func(t *testing.T) {
			m := openMap[lpmKey, testValue](t, Spec{Name: "hvrc_" + typ.String(), Type: typ, MaxEntries: 2 * n, PinDir: dir})
			key := func(o obj) lpmKey {
				return lpmKey{PrefixLen: 32, Addr: [4]byte{10, byte(o.id >> 16), byte(o.id >> 8), byte(o.id)}}
			}
			ops := NewOps(m, key, func(o obj) testValue { return testValue{o.value} })
			ctx := context.Background()

			batch := make([]reconcilers.BatchEntry[obj], n)
			for i := range batch {
				batch[i].Object = obj{id: uint32(i), value: uint64(i) * 3}
			}
			ops.UpdateBatch(ctx, batch)
			for i := range batch {
				if batch[i].Result != nil {
					t.Fatalf("entry %d: %v", i, batch[i].Result)
				}
			}
			got := dump(t, m)
			if len(got) != n {
				t.Fatalf("read back %d entries, want %d", len(got), n)
			}
			for i := range batch {
				o := batch[i].Object
				if v, ok := got[key(o)]; !ok || v.X != o.value {
					t.Fatalf("object %d: read back %v (present %v), want %d", o.id, v, ok, o.value)
				}
			}

			// Delete the first 1000 (batched), the next one singly.
			ops.DeleteBatch(ctx, batch[:1000])
			for i := range batch[:1000] {
				if batch[i].Result != nil {
					t.Fatalf("delete %d: %v", i, batch[i].Result)
				}
			}
			if err := ops.Delete(ctx, batch[1000].Object); err != nil {
				t.Fatal(err)
			}
			if got := dump(t, m); len(got) != n-1001 {
				t.Fatalf("after deletes %d entries, want %d", len(got), n-1001)
			}

			// Prune down to the even ids of the rest.
			var wanted []obj
			for _, e := range batch[1001:] {
				if e.Object.id%2 == 0 {
					wanted = append(wanted, e.Object)
				}
			}
			if err := ops.Prune(ctx, slices.Values(wanted)); err != nil {
				t.Fatal(err)
			}
			got = dump(t, m)
			if len(got) != len(wanted) {
				t.Fatalf("after prune %d entries, want %d", len(got), len(wanted))
			}
			for _, o := range wanted {
				if v, ok := got[key(o)]; !ok || v.X != o.value {
					t.Fatalf("prune touched wanted object %d: %v %v", o.id, v, ok)
				}
			}
		})
	}
}

func TestArrayOps(t *testing.T) {
	m := openMap[uint32, testValue](t, Spec{Name: "hvrc_array", Type: ebpf.Array, MaxEntries: 64, PinDir: testPinDir(t)})
	ops := NewOps(m, func(o obj) uint32 { return o.id }, func(o obj) testValue { return testValue{o.value} })
	ctx := context.Background()
	batch := []reconcilers.BatchEntry[obj]{{Object: obj{1, 10}}, {Object: obj{5, 50}}, {Object: obj{9, 90}}}
	ops.UpdateBatch(ctx, batch)
	for _, e := range batch {
		if e.Result != nil {
			t.Fatal(e.Result)
		}
	}
	if err := ops.Delete(ctx, obj{id: 5}); err != nil {
		t.Fatal(err)
	}
	if err := ops.Prune(ctx, slices.Values([]obj{{9, 90}})); err != nil {
		t.Fatal(err)
	}
	got := dump(t, m)
	if len(got) != 64 {
		t.Fatalf("array walk yielded %d entries, want 64", len(got))
	}
	for k, v := range got {
		want := uint64(0)
		if k == 9 {
			want = 90
		}
		if v.X != want {
			t.Fatalf("index %d = %d, want %d", k, v.X, want)
		}
	}
	// Out of range: the error reaches the entry.
	batch = []reconcilers.BatchEntry[obj]{{Object: obj{2, 1}}, {Object: obj{100, 1}}, {Object: obj{3, 1}}}
	ops.UpdateBatch(ctx, batch)
	if batch[0].Result != nil || batch[1].Result == nil || batch[2].Result != nil {
		t.Fatalf("results %v %v %v: want only index 100 to fail", batch[0].Result, batch[1].Result, batch[2].Result)
	}
}
