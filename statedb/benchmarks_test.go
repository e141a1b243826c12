package statedb

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"
)

// The workloads mirror github.com/cilium/statedb's benchmarks_test.go so the
// figures compare one to one (statedb/benchcmp runs both side by side).
// Every benchmark reports objects/s.

const numObjectsToInsert = 1000

// cpuClock is the process's user+system CPU time. The reference machine is
// a shared, often overloaded VM, where wall-clock throughput mostly
// measures the neighbours; CPU time (GC workers included) is the steadier
// figure of what the work costs.
type cpuClock time.Duration

func cpuNow() cpuClock {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return cpuClock(time.Duration(ru.Utime.Nano() + ru.Stime.Nano()))
}

// reportObjects reports objects/s (wall clock) and, given the CPU clock
// read before the timed loop, objects/cpu-s.
func reportObjects(b *testing.B, n int, start cpuClock) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "objects/s")
	if cpu := time.Duration(cpuNow() - start); cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "objects/cpu-s")
	}
}

func shuffledIDs(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	rand.Shuffle(n, func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return ids
}

func BenchmarkDB_WriteTxn_1(b *testing.B) {
	db, table := newTestDB(b)
	start := cpuNow()
	for b.Loop() {
		wtxn := db.WriteTxn(table)
		if _, _, err := table.Insert(wtxn, &testObject{ID: 123}); err != nil {
			b.Fatal(err)
		}
		wtxn.Commit()
	}
	reportObjects(b, b.N, start)
}

func BenchmarkDB_WriteTxn_10(b *testing.B)   { benchmarkWriteTxnBatch(b, 10) }
func BenchmarkDB_WriteTxn_100(b *testing.B)  { benchmarkWriteTxnBatch(b, 100) }
func BenchmarkDB_WriteTxn_1000(b *testing.B) { benchmarkWriteTxnBatch(b, 1000) }

func benchmarkWriteTxnBatch(b *testing.B, batch int) {
	db, table := newTestDB(b)
	n := b.N
	b.ResetTimer()
	start := cpuNow()
	for n > 0 {
		wtxn := db.WriteTxn(table)
		k := min(n, batch)
		for i := range k {
			if _, _, err := table.Insert(wtxn, &testObject{ID: uint64(i)}); err != nil {
				b.Fatal(err)
			}
		}
		wtxn.Commit()
		n -= k
	}
	reportObjects(b, b.N, start)
}

func BenchmarkDB_WriteTxn_100_SecondaryIndex(b *testing.B) {
	db, table := newTestDB(b, tagsIndex)
	tags := []string{"test"}
	n := b.N
	b.ResetTimer()
	start := cpuNow()
	for n > 0 {
		wtxn := db.WriteTxn(table)
		k := min(n, 100)
		for i := range k {
			if _, _, err := table.Insert(wtxn, &testObject{ID: uint64(i), Tags: tags}); err != nil {
				b.Fatal(err)
			}
		}
		wtxn.Commit()
		n -= k
	}
	reportObjects(b, b.N, start)
}

func BenchmarkDB_RandomInsert(b *testing.B) {
	db, table := newTestDB(b)
	ids := shuffledIDs(numObjectsToInsert)
	start := cpuNow()
	for b.Loop() {
		wtxn := db.WriteTxn(table)
		for _, id := range ids {
			if _, _, err := table.Insert(wtxn, &testObject{ID: id}); err != nil {
				b.Fatal(err)
			}
		}
		wtxn.Commit()
	}
	reportObjects(b, b.N*numObjectsToInsert, start)
}

func BenchmarkDB_RandomReplace(b *testing.B) {
	db, table := newTestDB(b, tagsIndex)
	tag := func(id uint64) []string {
		if id%2 == 0 {
			return []string{"even"}
		}
		return []string{"odd"}
	}
	ids := shuffledIDs(numObjectsToInsert)
	for _, id := range ids {
		mustInsert(b, db, table, &testObject{ID: id, Tags: tag(id)})
	}
	start := cpuNow()
	for b.Loop() {
		wtxn := db.WriteTxn(table)
		for _, id := range ids {
			if _, _, err := table.Insert(wtxn, &testObject{ID: id, Tags: tag(id)}); err != nil {
				b.Fatal(err)
			}
		}
		wtxn.Commit()
	}
	reportObjects(b, b.N*numObjectsToInsert, start)
}

func BenchmarkDB_SequentialInsert(b *testing.B) {
	db, table := newTestDB(b)
	start := cpuNow()
	for b.Loop() {
		wtxn := db.WriteTxn(table)
		for id := range uint64(numObjectsToInsert) {
			if _, _, err := table.Insert(wtxn, &testObject{ID: id}); err != nil {
				b.Fatal(err)
			}
		}
		wtxn.Commit()
	}
	if n := table.NumObjects(db.ReadTxn()); n != numObjectsToInsert {
		b.Fatalf("NumObjects = %d", n)
	}
	reportObjects(b, b.N*numObjectsToInsert, start)
}

func BenchmarkDB_Modify(b *testing.B) {
	db, table := newTestDB(b)
	ids := shuffledIDs(numObjectsToInsert)
	for _, id := range ids {
		mustInsert(b, db, table, &testObject{ID: id})
	}
	start := cpuNow()
	for b.Loop() {
		wtxn := db.WriteTxn(table)
		for _, id := range ids {
			table.Modify(wtxn, &testObject{ID: id}, func(old, new *testObject) *testObject { return new })
		}
		wtxn.Commit()
	}
	reportObjects(b, b.N*numObjectsToInsert, start)
}

// BenchmarkDB_Changes inserts a batch, observes it through a change
// iterator, deletes it and observes the deletes: the cost of delete tracking.
func BenchmarkDB_Changes(b *testing.B) {
	db, table := newTestDB(b)
	wtxn := db.WriteTxn(table)
	it, err := table.Changes(wtxn)
	if err != nil {
		b.Fatal(err)
	}
	wtxn.Commit()
	defer it.Close()

	start := cpuNow()
	for b.Loop() {
		wtxn := db.WriteTxn(table)
		for i := range numObjectsToInsert {
			table.Insert(wtxn, &testObject{ID: uint64(i)})
		}
		wtxn.Commit()
		changes, _ := it.Next(db.ReadTxn())
		n := 0
		for c := range changes {
			if c.Deleted {
				b.Fatalf("unexpected delete %v", c)
			}
			n++
		}
		if n != numObjectsToInsert {
			b.Fatalf("saw %d inserts", n)
		}
		wtxn = db.WriteTxn(table)
		table.DeleteAll(wtxn)
		wtxn.Commit()
		changes, _ = it.Next(db.ReadTxn())
		n = 0
		for c := range changes {
			if !c.Deleted {
				b.Fatalf("unexpected insert %v", c)
			}
			n++
		}
		if n != numObjectsToInsert {
			b.Fatalf("saw %d deletes", n)
		}
		db.CollectGraveyard()
	}
	reportObjects(b, b.N*numObjectsToInsert, start)
}

func BenchmarkDB_RandomLookup(b *testing.B) {
	db, table := newTestDB(b)
	ids := shuffledIDs(numObjectsToInsert)
	objs := make([]*testObject, len(ids))
	queries := make([]Query[*testObject], len(ids))
	for i, id := range ids {
		objs[i] = &testObject{ID: id}
		queries[i] = idIndex.Query(id)
	}
	mustInsert(b, db, table, objs...)
	start := cpuNow()
	for b.Loop() {
		txn := db.ReadTxn()
		for _, q := range queries {
			if _, _, ok := table.Get(txn, q); !ok {
				b.Fatal("not found")
			}
		}
	}
	reportObjects(b, b.N*numObjectsToInsert, start)
}

func BenchmarkDB_Prefix_SecondaryIndex(b *testing.B) {
	db, table := newTestDB(b, tagsIndex)
	objs := make([]*testObject, numObjectsToInsert)
	for i := range objs {
		objs[i] = &testObject{ID: uint64(i), Tags: []string{"test"}}
	}
	txn := mustInsert(b, db, table, objs...)
	q := tagsIndex.Query("test")
	start := cpuNow()
	for b.Loop() {
		n := 0
		for range table.Prefix(txn, q) {
			n++
		}
		if n != numObjectsToInsert {
			b.Fatalf("got %d", n)
		}
	}
	reportObjects(b, b.N*numObjectsToInsert, start)
}

const numObjectsIteration = 100000

func BenchmarkDB_FullIteration_All(b *testing.B) {
	db, table := newTestDB(b)
	objs := make([]*testObject, numObjectsIteration)
	for i := range objs {
		objs[i] = &testObject{ID: uint64(i)}
	}
	txn := mustInsert(b, db, table, objs...)
	start := cpuNow()
	for b.Loop() {
		n := 0
		for range table.All(txn) {
			n++
		}
		if n != numObjectsIteration {
			b.Fatalf("got %d", n)
		}
	}
	reportObjects(b, b.N*numObjectsIteration, start)
}

// BenchmarkDB_Delete_1000 deletes objects one by one, 1000 per write
// transaction, from a table filled before the clock starts.
func BenchmarkDB_Delete_1000(b *testing.B) {
	db, table := newTestDB(b)
	objs := make([]*testObject, b.N)
	for i := range objs {
		objs[i] = &testObject{ID: uint64(i)}
	}
	mustInsert(b, db, table, objs...)
	b.ResetTimer()
	start := cpuNow()
	for len(objs) > 0 {
		k := min(len(objs), numObjectsToInsert)
		wtxn := db.WriteTxn(table)
		for _, o := range objs[:k] {
			if _, hadOld, err := table.Delete(wtxn, o); err != nil || !hadOld {
				b.Fatalf("Delete(%d): %v, %v", o.ID, hadOld, err)
			}
		}
		wtxn.Commit()
		objs = objs[k:]
	}
	reportObjects(b, b.N, start)
}

func BenchmarkDB_RandomLookup_100k(b *testing.B) {
	db, table := newTestDB(b)
	ids := shuffledIDs(numObjectsIteration)
	objs := make([]*testObject, len(ids))
	queries := make([]Query[*testObject], len(ids))
	for i, id := range ids {
		objs[i] = &testObject{ID: id}
		queries[i] = idIndex.Query(id)
	}
	mustInsert(b, db, table, objs...)
	start := cpuNow()
	for b.Loop() {
		txn := db.ReadTxn()
		for _, q := range queries {
			if _, _, ok := table.Get(txn, q); !ok {
				b.Fatal("not found")
			}
		}
	}
	reportObjects(b, b.N*numObjectsIteration, start)
}

// BenchmarkDB_RandomLookup_UniqueSecondary looks objects up by a unique
// string index other than the primary one.
func BenchmarkDB_RandomLookup_UniqueSecondary(b *testing.B) {
	db, table := newTestDB(b, nameIndex)
	ids := shuffledIDs(numObjectsToInsert)
	objs := make([]*testObject, len(ids))
	queries := make([]Query[*testObject], len(ids))
	for i, id := range ids {
		name := fmt.Sprintf("default/object-%d", id)
		objs[i] = &testObject{ID: id, Name: name}
		queries[i] = nameIndex.Query(name)
	}
	mustInsert(b, db, table, objs...)
	start := cpuNow()
	for b.Loop() {
		txn := db.ReadTxn()
		for _, q := range queries {
			if _, _, ok := table.Get(txn, q); !ok {
				b.Fatal("not found")
			}
		}
	}
	reportObjects(b, b.N*numObjectsToInsert, start)
}

// BenchmarkDB_PropagationDelay is cilium/statedb's benchmark of the same
// name, with a change iterator in place of its revision index query: a
// batch of 10 is committed to one table, whose watch channel wakes the
// step that copies the changes into a second table, whose watch channel
// ends the sample. Reports the delay's p50 and p99 in nanoseconds.
func BenchmarkDB_PropagationDelay(b *testing.B) {
	const batchSize = 10
	db, table1 := newTestDB(b)
	table2 := MustNewTable("test2", idIndex)
	if err := db.RegisterTable(table2); err != nil {
		b.Fatal(err)
	}
	wtxn := db.WriteTxn(table1)
	it, err := table1.Changes(wtxn)
	if err != nil {
		b.Fatal(err)
	}
	wtxn.Commit()
	defer it.Close()

	rounds := max(1, b.N/batchSize)
	samples := make([]time.Duration, 0, rounds)
	var w1 <-chan struct{} = closedChan
	b.ResetTimer()
	start := cpuNow()
	for range rounds {
		t0 := time.Now()
		wtxn := db.WriteTxn(table1)
		for i := range batchSize {
			table1.Insert(wtxn, &testObject{ID: uint64(i)})
		}
		wtxn.Commit()

		<-w1
		txn := db.ReadTxn()
		_, watch2 := table2.AllWatch(txn)
		var changes func(func(Change[*testObject], Revision) bool)
		changes, w1 = it.Next(txn)
		wtxn = db.WriteTxn(table2)
		for c := range changes {
			if c.Deleted {
				table2.Delete(wtxn, c.Object)
			} else {
				table2.Insert(wtxn, c.Object)
			}
		}
		wtxn.Commit()

		<-watch2
		samples = append(samples, time.Since(t0))
	}
	b.StopTimer()
	reportObjects(b, rounds*batchSize, start)
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkDB_WatchWakeup measures how long a goroutine blocked on an
// object's watch channel takes to wake once a write to the object begins:
// the write transaction, its commit, the channel closing and the scheduler
// running the watcher. Reports p50 and p99 in nanoseconds.
func BenchmarkDB_WatchWakeup(b *testing.B) {
	db, table := newTestDB(b)
	q := idIndex.Query(1)
	watches := make(chan (<-chan struct{}))
	woke := make(chan time.Time)
	go func() {
		for w := range watches {
			<-w
			woke <- time.Now()
		}
	}()
	defer close(watches)
	samples := make([]time.Duration, 0, b.N)
	start := cpuNow()
	for b.Loop() {
		_, _, w, _ := table.GetWatch(db.ReadTxn(), q)
		watches <- w
		t0 := time.Now()
		wtxn := db.WriteTxn(table)
		if _, _, err := table.Insert(wtxn, &testObject{ID: 1}); err != nil {
			b.Fatal(err)
		}
		wtxn.Commit()
		samples = append(samples, (<-woke).Sub(t0))
	}
	reportObjects(b, b.N, start)
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
}
