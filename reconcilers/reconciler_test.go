package reconcilers_test

import (
	"context"
	"errors"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/reconcilers/bpfmap"
	"github.com/hivenet/hivenet/statedb"
)

func allStatuses(db *statedb.DB, table statedb.Table[*testObj]) map[reconcilers.StatusKind]int {
	out := map[reconcilers.StatusKind]int{}
	for o := range table.All(db.ReadTxn()) {
		out[o.Status.Kind]++
	}
	return out
}

// TestReconcile10k reconciles 10k objects into real hash, LPM trie and LRU
// hash maps, reads them back, then deletes, updates and prunes.
func TestReconcile10k(t *testing.T) {
	const n = 10_000
	dir := testPinDir(t)
	for _, typ := range []ebpf.MapType{ebpf.Hash, ebpf.LPMTrie, ebpf.LRUHash} {
		t.Run(typ.String(), func(t *testing.T) {
			m := openMap(t, dir+"/"+typ.String(), typ, 2*n)
			db, table := newTable(t)
			r := start(t, reconcilers.Config[*testObj]{
				DB: db, Table: table,
				Operations:      bpfmap.NewOps(m, objKey, objValue),
				GetObjectStatus: getStatus, SetObjectStatus: setStatus,
				Params: reconcilers.Params{PruneInterval: 20 * time.Millisecond, RoundSize: 1000},
			}, nil)

			objs := make([]*testObj, n)
			for i := range objs {
				objs[i] = newObj(uint32(i), uint64(i)*7)
			}
			waitReconciled(t, r, insert(t, db, table, objs...))
			if st := allStatuses(db, table); st[reconcilers.StatusKindDone] != n {
				t.Fatalf("statuses %v, want %d done", st, n)
			}
			got := dumpMap(t, m)
			if len(got) != n {
				t.Fatalf("map has %d entries, want %d", len(got), n)
			}
			for _, o := range objs {
				if v, ok := got[objKey(o)]; !ok || v.Value != o.Value {
					t.Fatalf("%v: map has %v (present %v)", o, v, ok)
				}
			}

			// Delete a tenth, change another tenth.
			remove(t, db, table, objs[:n/10]...)
			var changed []*testObj
			for _, o := range objs[n/10 : n/5] {
				changed = append(changed, newObj(o.ID, o.Value+1))
			}
			waitReconciled(t, r, insert(t, db, table, changed...))
			got = dumpMap(t, m)
			if len(got) != n-n/10 {
				t.Fatalf("after deletes map has %d entries, want %d", len(got), n-n/10)
			}
			for _, o := range changed {
				if got[objKey(o)].Value != o.Value {
					t.Fatalf("%v: map has %v", o, got[objKey(o)])
				}
			}

			// Something no object asks for is pruned.
			stale := mapKey{PrefixLen: 32, ID: 1 << 30}
			if err := m.Update(stale, mapValue{1}); err != nil {
				t.Fatal(err)
			}
			eventually(t, "stale key pruned", func() bool {
				_, err := m.Lookup(stale)
				return errors.Is(err, ebpf.ErrKeyNotExist)
			})
			if got := dumpMap(t, m); len(got) != n-n/10 {
				t.Fatalf("after prune map has %d entries, want %d", len(got), n-n/10)
			}
		})
	}
}

// TestRestartPrunesOnlyAfterInit is an agent restart: a new reconciler over
// a map pinned by the previous run. Until the table is initialised nothing
// is pruned; then stale keys go and wanted keys are never missing.
func TestRestartPrunesOnlyAfterInit(t *testing.T) {
	dir := testPinDir(t)
	const wanted, stale = 500, 500

	// The previous run left wanted keys (with old values) and stale ones.
	prev := openMap(t, dir, ebpf.Hash, 4096)
	for i := range uint32(wanted + stale) {
		if err := prev.Update(mapKey{32, i}, mapValue{1}); err != nil {
			t.Fatal(err)
		}
	}
	prev.Close()

	m := openMap(t, dir, ebpf.Hash, 4096)
	if !m.Adopted() {
		t.Fatal("restart did not adopt the pinned map")
	}
	db, table := newTable(t)
	wtxn := db.WriteTxn(table)
	initDone := table.RegisterInitializer(wtxn, "k8s-sync")
	wtxn.Commit()

	// Watch the wanted keys for the whole test: not once may one be absent.
	stop := make(chan struct{})
	var missing atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for i := range uint32(wanted) {
				if _, err := m.Lookup(mapKey{32, i}); err != nil {
					missing.Add(1)
				}
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
		if n := missing.Load(); n > 0 {
			t.Errorf("wanted keys were missing from the map %d times", n)
		}
	}()

	r := start(t, reconcilers.Config[*testObj]{
		DB: db, Table: table,
		Operations:      bpfmap.NewOps(m, objKey, objValue),
		GetObjectStatus: getStatus, SetObjectStatus: setStatus,
		Params: reconcilers.Params{PruneInterval: 10 * time.Millisecond},
	}, nil)

	// The table fills in two steps, as a k8s reflector's listing would.
	var objs []*testObj
	for i := range uint32(wanted) {
		objs = append(objs, newObj(i, 2))
	}
	waitReconciled(t, r, insert(t, db, table, objs[:wanted/2]...))
	waitReconciled(t, r, insert(t, db, table, objs[wanted/2:]...))
	// Reconciled, but not initialised: the stale keys must still be there.
	if got := dumpMap(t, m); len(got) != wanted+stale {
		t.Fatalf("before initialisation the map has %d entries, want %d: pruned too early", len(got), wanted+stale)
	}

	wtxn = db.WriteTxn(table)
	initDone(wtxn)
	wtxn.Commit()
	eventually(t, "stale keys pruned", func() bool { return len(dumpMap(t, m)) == wanted })
	for k, v := range dumpMap(t, m) {
		if k.ID >= wanted || v.Value != 2 {
			t.Fatalf("after prune: %v=%v", k, v)
		}
	}
}

// flakyOps fails updates of one object a given number of times.
type flakyOps struct {
	reconcilers.Operations[*testObj]
	failID   uint32
	mu       sync.Mutex
	failures int
	attempts int
}

var errInjected = errors.New("injected failure")

func (f *flakyOps) Update(ctx context.Context, o *testObj) error {
	if o.ID == f.failID {
		f.mu.Lock()
		f.attempts++
		fail := f.failures > 0
		if fail {
			f.failures--
		}
		f.mu.Unlock()
		if fail {
			return errInjected
		}
	}
	return f.Operations.Update(ctx, o)
}

func (f *flakyOps) Delete(ctx context.Context, o *testObj) error { return f.Operations.Delete(ctx, o) }

func (f *flakyOps) Prune(ctx context.Context, objs iter.Seq[*testObj]) error {
	return f.Operations.Prune(ctx, objs)
}

// TestRetries: an object whose update keeps failing shows error in its
// status and degrades health while the others are done at once; it is
// retried with backoff, and once the target accepts it after N more
// failures it becomes done and health recovers.
func TestRetries(t *testing.T) {
	for _, batched := range []bool{false, true} {
		name := "single"
		if batched {
			name = "batched"
		}
		t.Run(name, func(t *testing.T) {
			m := openMap(t, testPinDir(t), ebpf.Hash, 1024)
			var ops reconcilers.Operations[*testObj] = bpfmap.NewOps(m, objKey, objValue)
			// Failing until the test says how many more failures there
			// are, so no assertion depends on how fast the machine is.
			flaky := &flakyOps{Operations: ops, failID: 7, failures: 1 << 30}
			if batched {
				ops = &batchingFlaky{flakyOps: flaky, batch: ops.(reconcilers.BatchOperations[*testObj])}
			} else {
				ops = flaky
			}
			db, table := newTable(t)
			health := &recordingHealth{}
			r := start(t, reconcilers.Config[*testObj]{
				DB: db, Table: table, Operations: ops,
				GetObjectStatus: getStatus, SetObjectStatus: setStatus,
				Params: reconcilers.Params{RetryBackoffMin: 10 * time.Millisecond, RetryBackoffMax: 40 * time.Millisecond},
			}, health)

			var objs []*testObj
			for i := range uint32(100) {
				objs = append(objs, newObj(i, uint64(i)))
			}
			waitReconciled(t, r, insert(t, db, table, objs...))

			o7, _, _ := table.Get(db.ReadTxn(), idIndex.Query(7))
			if o7.Status.Kind != reconcilers.StatusKindError || !strings.Contains(o7.Status.Error, errInjected.Error()) {
				t.Fatalf("object 7 status %v, want error with %q", o7.Status, errInjected)
			}
			if st := allStatuses(db, table); st[reconcilers.StatusKindDone] != 99 {
				t.Fatalf("statuses %v, want 99 done", st)
			}
			if got := dumpMap(t, m); len(got) != 99 {
				t.Fatalf("map has %d entries, want 99", len(got))
			}
			eventually(t, "health degraded", func() bool {
				degraded, msg, err := health.get()
				return degraded && strings.HasPrefix(msg, "1 objects failing") && errors.Is(err, errInjected)
			})
			attempts := func() int {
				flaky.mu.Lock()
				defer flaky.mu.Unlock()
				return flaky.attempts
			}
			eventually(t, "object 7 retried", func() bool { return attempts() >= 3 })
			if o, _, _ := table.Get(db.ReadTxn(), idIndex.Query(7)); o.Status.Kind != reconcilers.StatusKindError {
				t.Fatalf("object 7 still failing but status %v", o.Status)
			}

			// Three more failures, then success.
			flaky.mu.Lock()
			flaky.failures = 3
			base := flaky.attempts
			flaky.mu.Unlock()
			eventually(t, "object 7 done after retries", func() bool {
				o, _, _ := table.Get(db.ReadTxn(), idIndex.Query(7))
				return o.Status.Kind == reconcilers.StatusKindDone
			})
			if v, err := m.Lookup(objKey(objs[7])); err != nil || v.Value != 7 {
				t.Fatalf("object 7 in map: %v %v", v, err)
			}
			if got := attempts() - base; got != 4 {
				t.Fatalf("object 7 attempted %d more times after 3 more failures, want 4", got)
			}
			eventually(t, "health OK", func() bool { degraded, _, _ := health.get(); return !degraded })
		})
	}
}

// batchingFlaky is flakyOps with the batch interface of the wrapped ops.
type batchingFlaky struct {
	*flakyOps
	batch reconcilers.BatchOperations[*testObj]
}

func (b *batchingFlaky) UpdateBatch(ctx context.Context, batch []reconcilers.BatchEntry[*testObj]) {
	var rest []reconcilers.BatchEntry[*testObj]
	var pos []int
	for i := range batch {
		if batch[i].Object.ID == b.failID {
			batch[i].Result = b.flakyOps.Update(ctx, batch[i].Object)
			continue
		}
		rest = append(rest, batch[i])
		pos = append(pos, i)
	}
	b.batch.UpdateBatch(ctx, rest)
	for j, i := range pos {
		batch[i].Result = rest[j].Result
	}
}

func (b *batchingFlaky) DeleteBatch(ctx context.Context, batch []reconcilers.BatchEntry[*testObj]) {
	b.batch.DeleteBatch(ctx, batch)
}

// TestNewVersionReplacesRetry: an object failing for good is fixed by its
// writer; the new version is applied at once and the retry is dropped.
func TestNewVersionReplacesRetry(t *testing.T) {
	m := openMap(t, testPinDir(t), ebpf.Hash, 1024)
	ops := &flakyOps{Operations: bpfmap.NewOps(m, objKey, objValue), failID: 3, failures: 1 << 30}
	db, table := newTable(t)
	health := &recordingHealth{}
	r := start(t, reconcilers.Config[*testObj]{
		DB: db, Table: table, Operations: ops,
		GetObjectStatus: getStatus, SetObjectStatus: setStatus,
		// A retry would not come within the test's lifetime.
		Params: reconcilers.Params{RetryBackoffMin: time.Hour, RetryBackoffMax: time.Hour},
	}, health)
	waitReconciled(t, r, insert(t, db, table, newObj(3, 30)))
	o, _, _ := table.Get(db.ReadTxn(), idIndex.Query(3))
	if o.Status.Kind != reconcilers.StatusKindError {
		t.Fatalf("status %v, want error", o.Status)
	}
	ops.mu.Lock()
	ops.failures = 0
	ops.mu.Unlock()
	waitReconciled(t, r, insert(t, db, table, newObj(3, 31)))
	o, _, _ = table.Get(db.ReadTxn(), idIndex.Query(3))
	if o.Status.Kind != reconcilers.StatusKindDone {
		t.Fatalf("new version status %v, want done", o.Status)
	}
	if v, err := m.Lookup(objKey(o)); err != nil || v.Value != 31 {
		t.Fatalf("map has %v %v, want 31", v, err)
	}
	eventually(t, "health OK", func() bool { degraded, _, _ := health.get(); return !degraded })
}

// TestStaleWriteBackDropped: if an object changes while its previous
// version is being applied, the previous version's result must not land
// on the new one.
func TestStaleWriteBackDropped(t *testing.T) {
	db, table := newTable(t)
	entered, release := make(chan struct{}), make(chan struct{})
	ops := &blockingOps{entered: entered, release: release}
	r := start(t, reconcilers.Config[*testObj]{
		DB: db, Table: table, Operations: ops,
		GetObjectStatus: getStatus, SetObjectStatus: setStatus,
	}, nil)
	insert(t, db, table, newObj(1, 1))
	<-entered // version 1 is being applied
	rev := insert(t, db, table, newObj(1, 2))
	o, _, _ := table.Get(db.ReadTxn(), idIndex.Query(1))
	close(release)
	waitReconciled(t, r, rev)
	got, _, _ := table.Get(db.ReadTxn(), idIndex.Query(1))
	if got.Value != 2 || got.Status.Kind != reconcilers.StatusKindDone {
		t.Fatalf("object %v status %v, want value 2 done", got, got.Status)
	}
	if o.Status.Kind != reconcilers.StatusKindPending {
		t.Fatalf("version 2 was marked %v while version 1 was being applied", o.Status)
	}
	if ops.applied() != "1,2" {
		t.Fatalf("applied %s, want 1,2", ops.applied())
	}
}

type blockingOps struct {
	entered, release chan struct{}
	once             sync.Once
	mu               sync.Mutex
	values           []string
}

func (b *blockingOps) Update(_ context.Context, o *testObj) error {
	b.once.Do(func() { close(b.entered); <-b.release })
	b.mu.Lock()
	b.values = append(b.values, string(rune('0'+o.Value)))
	b.mu.Unlock()
	return nil
}

func (b *blockingOps) applied() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.values, ",")
}

func (b *blockingOps) Delete(context.Context, *testObj) error          { return nil }
func (b *blockingOps) Prune(context.Context, iter.Seq[*testObj]) error { return nil }

// TestReplaceSharingTargetKey: one object is deleted and another with a
// different primary key but the same map key is inserted in the same
// transaction. Deletes are applied first, so the new entry survives.
func TestReplaceSharingTargetKey(t *testing.T) {
	m := openMap(t, testPinDir(t), ebpf.Hash, 1024)
	sharedKey := func(o *testObj) mapKey { return mapKey{PrefixLen: 32, ID: o.ID % 100} }
	db, table := newTable(t)
	r := start(t, reconcilers.Config[*testObj]{
		DB: db, Table: table, Operations: bpfmap.NewOps(m, sharedKey, objValue),
		GetObjectStatus: getStatus, SetObjectStatus: setStatus,
	}, nil)
	old := newObj(1, 10)
	waitReconciled(t, r, insert(t, db, table, old))

	wtxn := db.WriteTxn(table)
	table.Delete(wtxn, old)
	table.Insert(wtxn, newObj(101, 20)) // same map key as object 1
	waitReconciled(t, r, table.Revision(wtxn.Commit()))
	if v, err := m.Lookup(mapKey{32, 1}); err != nil || v.Value != 20 {
		t.Fatalf("shared key holds %v, %v; want the new object's 20", v, err)
	}
}
