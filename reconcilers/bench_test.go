package reconcilers_test

import (
	"context"
	"iter"
	"syscall"
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
	runReconcileBenchmark(b, ops, n)
	if got := len(dumpMap(b, m)); got != n {
		b.Fatalf("map has %d entries, want %d", got, n)
	}
}

// noopOps does nothing: what is left is the reconciler and statedb, the
// figure Cilium's reconciler benchmark reports.
type noopOps struct{}

func (noopOps) Update(context.Context, *testObj) error                          { return nil }
func (noopOps) Delete(context.Context, *testObj) error                          { return nil }
func (noopOps) Prune(context.Context, iter.Seq[*testObj]) error                 { return nil }
func (noopOps) UpdateBatch(context.Context, []reconcilers.BatchEntry[*testObj]) {}
func (noopOps) DeleteBatch(context.Context, []reconcilers.BatchEntry[*testObj]) {}

func BenchmarkReconcile_Noop_100k(b *testing.B) { runReconcileBenchmark(b, noopOps{}, 100_000) }

func runReconcileBenchmark(b *testing.B, ops reconcilers.Operations[*testObj], n int) {
	objs := make([]*testObj, n)
	for i := range objs {
		objs[i] = newObj(uint32(i), uint64(i))
	}
	var cpu time.Duration
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
		cpu0 := cpuTime()
		go func() { done <- r.Run(ctx, nil) }()
		if _, err := r.WaitUntilReconciled(ctx, rev); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - cpu0
		b.StopTimer()

		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if st := allStatuses(db, table); st[reconcilers.StatusKindDone] != n {
			b.Fatalf("statuses %v, want %d done", st, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
	// The machine is shared: CPU time says what the work costs regardless
	// of how much of the machine others took meanwhile (GC included).
	b.ReportMetric(float64(n*b.N)/cpu.Seconds(), "objects/cpu-s")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// BenchmarkStatusWriteBack_100k is the floor under every reconciler figure:
// statedb alone doing the status write-back of 100k objects, in
// transactions of the default round size, with no reconciler and no
// target.
func BenchmarkStatusWriteBack_100k(b *testing.B) {
	const n = 100_000
	round := reconcilers.DefaultParams.RoundSize
	objs := make([]*testObj, n)
	for i := range objs {
		objs[i] = newObj(uint32(i), uint64(i))
	}
	var cpu time.Duration
	b.ResetTimer()
	b.StopTimer()
	for range b.N {
		db, table := newTable(b)
		insert(b, db, table, objs...)
		done := reconcilers.StatusDone()
		b.StartTimer()
		cpu0 := cpuTime()
		for i := 0; i < n; i += round {
			wtxn := db.WriteTxn(table)
			for _, o := range objs[i:min(i+round, n)] {
				if _, _, err := table.Insert(wtxn, setStatus(o, done)); err != nil {
					b.Fatal(err)
				}
			}
			wtxn.Commit()
		}
		cpu += cpuTime() - cpu0
		b.StopTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(float64(n*b.N)/cpu.Seconds(), "objects/cpu-s")
}
