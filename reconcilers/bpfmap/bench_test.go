package bpfmap

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/hivenet/hivenet/reconcilers"
)

// benchmarkOps measures the Operations alone, without a reconciler or a
// table: n objects into a real map, batched or one syscall per object.
// Each iteration writes all n (updates of existing keys after the first).
func benchmarkOps(b *testing.B, typ ebpf.MapType, n int, batched bool) {
	m, err := New[lpmKey, testValue](Spec{Name: "hvrc_bench", Type: typ, MaxEntries: uint32(n), PinDir: testPinDir(b)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Open(); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ops := NewOps(m,
		func(o obj) lpmKey {
			return lpmKey{PrefixLen: 32, Addr: [4]byte{10, byte(o.id >> 16), byte(o.id >> 8), byte(o.id)}}
		},
		func(o obj) testValue { return testValue{o.value} })
	batch := make([]reconcilers.BatchEntry[obj], n)
	for i := range batch {
		batch[i].Object = obj{id: uint32(i), value: uint64(i)}
	}
	const chunk = 10_000 // the reconciler's default round size
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		for i := 0; i < n; i += chunk {
			part := batch[i:min(i+chunk, n)]
			if batched {
				ops.UpdateBatch(ctx, part)
				continue
			}
			for j := range part {
				if err := ops.Update(ctx, part[j].Object); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	for i := range batch {
		if batch[i].Result != nil {
			b.Fatal(batch[i].Result)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
	// System time included: that is where the kernel's share of the work
	// is accounted, and the shared machine does not blur it.
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

func BenchmarkOps(b *testing.B) {
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.LPMTrie} {
		for _, n := range []int{100_000, 1_000_000} {
			for _, batched := range []bool{true, false} {
				mode := "Unbatched"
				if batched {
					mode = "Batched"
				}
				b.Run(fmt.Sprintf("%s/%d/%s", typ, n, mode), func(b *testing.B) { benchmarkOps(b, typ, n, batched) })
			}
		}
	}
}
