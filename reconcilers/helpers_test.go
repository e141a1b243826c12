package reconcilers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/reconcilers/bpfmap"
	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

// testObj is a desired-state object: one BPF map entry.
type testObj struct {
	ID     uint32
	Value  uint64
	Status reconcilers.Status
}

func (o *testObj) String() string { return fmt.Sprintf("obj %d=%d", o.ID, o.Value) }

func getStatus(o *testObj) reconcilers.Status { return o.Status }

func setStatus(o *testObj, s reconcilers.Status) *testObj {
	c := *o
	c.Status = s
	return &c
}

var idIndex = statedb.Index[*testObj, uint32]{
	Name:       "id",
	FromObject: func(o *testObj) index.KeySet { return index.NewKeySet(index.Uint32(o.ID)) },
	FromKey:    index.Uint32,
	Unique:     true,
}

type mapKey struct {
	PrefixLen uint32
	ID        uint32
}

type mapValue struct {
	Value uint64
}

func objKey(o *testObj) mapKey     { return mapKey{PrefixLen: 32, ID: o.ID} }
func objValue(o *testObj) mapValue { return mapValue{o.Value} }

func newObj(id uint32, value uint64) *testObj {
	return &testObj{ID: id, Value: value, Status: reconcilers.StatusPending()}
}

// testPinDir returns a fresh pin directory under /sys/fs/bpf/hvrc-*,
// mounting bpffs if needed, removed when t ends.
func testPinDir(t testing.TB) string {
	t.Helper()
	if err := bpfmap.EnsureBPFFS(bpfmap.DefaultRoot); err != nil {
		t.Fatalf("these tests need root and bpffs: %v", err)
	}
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	dir := filepath.Join(bpfmap.DefaultRoot, fmt.Sprintf("hvrc-%s-%d", name, os.Getpid()))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove pin dir: %v", err)
		}
	})
	return dir
}

func openMap(t testing.TB, dir string, typ ebpf.MapType, maxEntries uint32) *bpfmap.Map[mapKey, mapValue] {
	t.Helper()
	m, err := bpfmap.New[mapKey, mapValue](bpfmap.Spec{Name: "hvrc_test", Type: typ, MaxEntries: maxEntries, PinDir: dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func newTable(t testing.TB) (*statedb.DB, statedb.RWTable[*testObj]) {
	t.Helper()
	db := statedb.New()
	table := statedb.MustNewTable("test-objects", idIndex)
	if err := db.RegisterTable(table); err != nil {
		t.Fatal(err)
	}
	return db, table
}

// start runs a reconciler until t ends.
func start[T any](t testing.TB, cfg reconcilers.Config[T], health reconcilers.Health) *reconcilers.Reconciler[T] {
	t.Helper()
	r, err := reconcilers.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, health) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

func insert(t testing.TB, db *statedb.DB, table statedb.RWTable[*testObj], objs ...*testObj) statedb.Revision {
	t.Helper()
	wtxn := db.WriteTxn(table)
	for _, o := range objs {
		if _, _, err := table.Insert(wtxn, o); err != nil {
			t.Fatal(err)
		}
	}
	return table.Revision(wtxn.Commit())
}

func remove(t testing.TB, db *statedb.DB, table statedb.RWTable[*testObj], objs ...*testObj) statedb.Revision {
	t.Helper()
	wtxn := db.WriteTxn(table)
	for _, o := range objs {
		if _, _, err := table.Delete(wtxn, o); err != nil {
			t.Fatal(err)
		}
	}
	return table.Revision(wtxn.Commit())
}

func waitReconciled(t testing.TB, r *reconcilers.Reconciler[*testObj], rev statedb.Revision) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.WaitUntilReconciled(ctx, rev); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dumpMap(t testing.TB, m *bpfmap.Map[mapKey, mapValue]) map[mapKey]mapValue {
	t.Helper()
	out := map[mapKey]mapValue{}
	if err := m.Walk(func(keys []mapKey, values []mapValue) error {
		for i := range keys {
			out[keys[i]] = values[i]
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// recordingHealth keeps the latest report.
type recordingHealth struct {
	mu       sync.Mutex
	degraded bool
	msg      string
	err      error
}

func (h *recordingHealth) OK(msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.degraded, h.msg, h.err = false, msg, nil
}

func (h *recordingHealth) Degraded(msg string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.degraded, h.msg, h.err = true, msg, err
}

func (h *recordingHealth) get() (bool, string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.degraded, h.msg, h.err
}
