package reconcilers_test

import (
	"context"
	"errors"
	"iter"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/reconcilers/bpfmap"
	"github.com/hivenet/hivenet/statedb"
)

// memOps is an in-memory target, for testing the hive wiring. It refuses
// object 5.
type memOps struct {
	mu sync.Mutex
	m  map[uint32]uint64
}

func (o *memOps) Update(_ context.Context, obj *testObj) error {
	if obj.ID == 5 {
		return errors.New("object 5 is refused")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.m[obj.ID] = obj.Value
	return nil
}

func (o *memOps) Delete(_ context.Context, obj *testObj) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.m, obj.ID)
	return nil
}

func (o *memOps) Prune(_ context.Context, objs iter.Seq[*testObj]) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	keep := map[uint32]bool{}
	for obj := range objs {
		keep[obj.ID] = true
	}
	maps.DeleteFunc(o.m, func(id uint32, _ uint64) bool { return !keep[id] })
	return nil
}

func (o *memOps) snapshot() map[uint32]uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.m)
}

func TestRegisterInHive(t *testing.T) {
	ops := &memOps{m: map[uint32]uint64{}}
	var (
		db    *statedb.DB
		table statedb.RWTable[*testObj]
		r     *reconcilers.Reconciler[*testObj]
	)
	var collectors []prometheus.Collector
	h := cell.New(
		reconcilers.Cell,
		bpfmap.Cell,
		cell.Invoke(func(in struct {
			cell.In
			Collectors []prometheus.Collector `group:"prometheus-collectors"`
		}) {
			collectors = in.Collectors
		}),
		cell.Module("test-feature", "A feature with a desired-state table",
			cell.Provide(func() (*statedb.DB, statedb.RWTable[*testObj], error) {
				db := statedb.New()
				t := statedb.MustNewTable("test-objects", idIndex)
				return db, t, db.RegisterTable(t)
			}),
			cell.Invoke(func(p reconcilers.RegisterParams, d *statedb.DB, t statedb.RWTable[*testObj]) (err error) {
				db, table = d, t
				if p.Params.RetryBackoffMin != 5*time.Millisecond {
					return errors.New("flag --reconciler-retry-backoff-min did not reach the params")
				}
				r, err = reconcilers.Register(p, reconcilers.Config[*testObj]{
					DB: d, Table: t, Operations: ops,
					GetObjectStatus: getStatus, SetObjectStatus: setStatus,
				})
				return err
			}),
		),
	)
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	h.RegisterFlags(fs)
	if err := fs.Parse([]string{"--reconciler-retry-backoff-min=5ms", "--reconciler-retry-backoff-max=10ms"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := h.Stop(ctx); err != nil {
			t.Error(err)
		}
	}()

	var objs []*testObj
	for i := range uint32(10) {
		objs = append(objs, newObj(i, uint64(i)*10))
	}
	waitReconciled(t, r, insert(t, db, table, objs...))
	if got := ops.snapshot(); len(got) != 9 || got[9] != 90 {
		t.Fatalf("target holds %v", got)
	}

	moduleHealth := func() cell.ModuleHealth {
		for _, m := range h.Health().Modules() {
			if m.ID == "test-feature" {
				return m
			}
		}
		t.Fatal("module test-feature has no health")
		return cell.ModuleHealth{}
	}
	eventually(t, "module degraded by object 5", func() bool {
		m := moduleHealth()
		for _, rep := range m.Reports {
			if strings.Contains(rep.ID, "reconcile-test-objects") && m.Level == cell.LevelDegraded &&
				strings.Contains(rep.Error, "object 5 is refused") {
				return true
			}
		}
		return false
	})

	waitReconciled(t, r, remove(t, db, table, objs[5]))
	eventually(t, "module OK once object 5 is gone", func() bool { return moduleHealth().Level == cell.LevelOK })

	// The metrics reach the process's collector group.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors...)
	if v := metricValue(t, reg, "hivenet_reconciler_operations_total",
		map[string]string{"table": "test-objects", "op": "update"}); v != 9 {
		t.Fatalf("updates counted through the collector group: %v, want 9", v)
	}
	if len(collectors) != 2 {
		t.Fatalf("%d collectors in the group, want reconcilers' and bpfmap's", len(collectors))
	}
}
