package reconcilers_test

import (
	"context"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/reconcilers/bpfmap"
)

// unbatched hides the BatchOperations of the ops it wraps, so the
// reconciler makes one syscall per object.
type unbatched struct {
	reconcilers.Operations[*testObj]
}

// benchmarkReconcile measures how fast a reconciler drains a table of n
// pending objects into a real BPF map, status write-back included: the
// table is filled before the timer starts, the reconciler is started and
// the clock stops when WaitUntilReconciled returns.
func benchmarkReconcile(b *testing.B, typ ebpf.MapType, n int, batched bool) {
	dir := testPinDir(b)
	m := openMap(b, dir, typ, uint32(n))
	var ops reconcilers.Operations[*testObj] = bpfmap.NewOps(m, objKey, objValue)
	if !batched {
		ops = unbatched{ops}
	}
	objs := make([]*testObj, n)
	for i := range objs {
		objs[i] = newObj(uint32(i), uint64(i))
	}
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		db, table := newTable(b)
		// An initializer never done: the first prune would otherwise walk
		// the map inside the measurement.
		wtxn := db.WriteTxn(table)
		table.RegisterInitializer(wtxn, "benchmark")
		wtxn.Commit()
		rev := insert(b, db, table, objs...)
		r, err := reconcilers.New(reconcilers.Config[*testObj]{
			DB: db, Table: table, Operations: ops,
			GetObjectStatus: getStatus, SetObjectStatus: setStatus,
			// Measure incremental reconciliation only.
			Params: reconcilers.Params{PruneInterval: time.Hour},
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)

		b.StartTimer()
		go func() { done <- r.Run(ctx, nil) }()
		if _, err := r.WaitUntilReconciled(ctx, rev); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()

		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			if got := len(dumpMap(b, m)); got != n {
				b.Fatalf("map has %d entries, want %d", got, n)
			}
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
}

func BenchmarkReconcile_Hash_100k_Batched(b *testing.B) {
	benchmarkReconcile(b, ebpf.Hash, 100_000, true)
}

func BenchmarkReconcile_Hash_100k_Unbatched(b *testing.B) {
	benchmarkReconcile(b, ebpf.Hash, 100_000, false)
}

func BenchmarkReconcile_Hash_1M_Batched(b *testing.B) {
	benchmarkReconcile(b, ebpf.Hash, 1_000_000, true)
}

func BenchmarkReconcile_Hash_1M_Unbatched(b *testing.B) {
	benchmarkReconcile(b, ebpf.Hash, 1_000_000, false)
}

func BenchmarkReconcile_LPM_100k_Batched(b *testing.B) {
	benchmarkReconcile(b, ebpf.LPMTrie, 100_000, true)
}

func BenchmarkReconcile_LPM_1M_Batched(b *testing.B) {
	benchmarkReconcile(b, ebpf.LPMTrie, 1_000_000, true)
}
