package bpfmap

import (
	"testing"

	"github.com/cilium/ebpf"
)

// TestBatchSyscallsUsed checks that every supported map type really takes
// the batch syscalls on this kernel (hivenet needs ≥ 6.6), rather than
// silently falling back to one syscall per key, which is correct but
// several times slower.
func TestBatchSyscallsUsed(t *testing.T) {
	dir := testPinDir(t)
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.LRUHash, ebpf.LPMTrie} {
		t.Run(typ.String(), func(t *testing.T) {
			m := openMap[lpmKey, testValue](t, Spec{Name: "hvrc_b" + typ.String(), Type: typ, MaxEntries: 64, PinDir: dir})
			checkBatch(t, m, []lpmKey{{32, [4]byte{1}}, {32, [4]byte{2}}}, 2)
		})
	}
	t.Run("Array", func(t *testing.T) {
		m := openMap[uint32, testValue](t, Spec{Name: "hvrc_bArray", Type: ebpf.Array, MaxEntries: 64, PinDir: dir})
		checkBatch(t, m, []uint32{1, 2}, 64)
	})
}

func checkBatch[K comparable](t *testing.T, m *Map[K, testValue], keys []K, walked int) {
	t.Helper()
	m.UpdateBatch(keys, []testValue{{1}, {2}}, func(i int, err error) { t.Fatal(err) })
	if got := dump(t, m); len(got) != walked {
		t.Fatalf("walk found %d entries, want %d", len(got), walked)
	}
	m.DeleteBatch(keys, func(i int, err error) { t.Fatal(err) })
	if m.noBatchUpdate.Load() || m.noBatchDelete.Load() || m.noBatchLookup.Load() {
		t.Fatalf("fell back to per-key syscalls: update %v delete %v lookup %v",
			m.noBatchUpdate.Load(), m.noBatchDelete.Load(), m.noBatchLookup.Load())
	}
}
