package services

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/k8s"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/reconcilers/bpfmap"
	"github.com/hivenet/hivenet/statedb"
)

// testLB is the services cell without the hive: fake k8s tables filled
// by the test, the controller, and the reconciler into real maps pinned
// under a bpffs directory of the test.
type testLB struct {
	tb      testing.TB
	db      *statedb.DB
	svcs    statedb.RWTable[*corev1.Service]
	eps     statedb.RWTable[*discoveryv1.EndpointSlice]
	tables  Tables
	pinDir  string
	maps    *lbMaps
	ctrl    *controller
	rec     *reconcilers.Reconciler[*Frontend]
	cancel  context.CancelFunc
	done    chan struct{}
	initSvc func(statedb.WriteTxn)
}

func newTestPinDir(tb testing.TB) string {
	if os.Geteuid() != 0 {
		tb.Fatal("this test creates BPF maps: run it as root")
	}
	b := make([]byte, 3)
	rand.Read(b)
	dir := "/sys/fs/bpf/hvsv-" + hex.EncodeToString(b)
	if err := bpfmap.EnsureBPFFS(dir); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func startTestLB(tb testing.TB, pinDir string, maglev bool) *testLB {
	l := &testLB{tb: tb, db: statedb.New(), pinDir: pinDir}
	var err error
	if l.svcs, err = k8s.NewServicesTable(); err != nil {
		tb.Fatal(err)
	}
	if l.eps, err = k8s.NewEndpointSlicesTable(); err != nil {
		tb.Fatal(err)
	}
	if err := l.db.RegisterTable(l.svcs, l.eps); err != nil {
		tb.Fatal(err)
	}
	wtxn := l.db.WriteTxn(l.svcs, l.eps)
	l.initSvc = l.svcs.RegisterInitializer(wtxn, "test")
	wtxn.Commit()
	if l.tables, err = NewTables(l.db); err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	l.ctrl = newController(l.db, l.tables, l.svcs, l.eps, "n1", log)
	if l.maps, err = openLBMaps(pinDir, testMapSize, log); err != nil {
		tb.Fatal(err)
	}
	if err := restoreIDs(l.maps, l.ctrl.feIDs, l.ctrl.beIDs); err != nil {
		tb.Fatal(err)
	}
	l.rec, err = reconcilers.New(reconcilers.Config[*Frontend]{
		DB: l.db, Table: l.tables.Frontends, Operations: newLBOps(l.maps, maglev),
		GetObjectStatus: func(f *Frontend) reconcilers.Status { return f.Status },
		SetObjectStatus: setFrontendStatus, Log: log,
		Params: reconcilers.Params{PruneInterval: -1},
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel, l.done = cancel, make(chan struct{})
	go func() {
		defer close(l.done)
		ch := make(chan struct{})
		go func() { defer close(ch); l.rec.Run(ctx, nil) }()
		l.ctrl.run(ctx, nopHealth{})
		<-ch
	}()
	tb.Cleanup(l.stop)
	return l
}

type nopHealth struct{}

func (nopHealth) OK(string)              {}
func (nopHealth) Degraded(string, error) {}

func (l *testLB) stop() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	<-l.done
	l.maps.close()
	l.cancel = nil
}

// apply writes k8s objects (nil values delete by name) and marks the
// services table initialised.
func (l *testLB) apply(svcs []*corev1.Service, eps []*discoveryv1.EndpointSlice, deleteSvcs ...*corev1.Service) {
	wtxn := l.db.WriteTxn(l.svcs, l.eps)
	for _, s := range svcs {
		l.svcs.Insert(wtxn, s)
	}
	for _, e := range eps {
		l.eps.Insert(wtxn, e)
	}
	for _, s := range deleteSvcs {
		l.svcs.Delete(wtxn, s)
	}
	if l.initSvc != nil {
		l.initSvc(wtxn)
		l.initSvc = nil
	}
	wtxn.Commit()
}

// waitReconciled waits until the frontends table is initialised, has n
// frontends and all are in the maps.
func (l *testLB) waitReconciled(n int) { l.waitReconciledTimeout(n, 10*time.Second) }

func (l *testLB) waitReconciledTimeout(n int, timeout time.Duration) {
	l.tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		txn := l.db.ReadTxn()
		init, _ := l.tables.Frontends.Initialized(txn)
		done := 0
		for fe := range l.tables.Frontends.All(txn) {
			if fe.Status.IsDone() {
				done++
			}
		}
		if init && done == n && l.tables.Frontends.NumObjects(txn) == n {
			return
		}
		if time.Now().After(deadline) {
			l.tb.Fatalf("frontends not reconciled within %s: %d of %d done (want %d), initialised %v", timeout, done, l.tables.Frontends.NumObjects(txn), n, init)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *testLB) dump() []string {
	l.tb.Helper()
	es, err := bpf.DumpLB(strings.TrimSuffix(l.pinDir, "/globals"))
	if err != nil {
		l.tb.Fatal(err)
	}
	var out []string
	for _, e := range es {
		var bes []string
		for _, b := range e.Backends {
			bes = append(bes, fmt.Sprintf("%s (%d) [%s]", b.Address, b.ID, b.State))
		}
		out = append(out, fmt.Sprintf("%s id=%d %s", e.Frontend, e.ID, strings.Join(bes, ", ")))
	}
	return out
}

func TestReconcileIntoMaps(t *testing.T) {
	root := newTestPinDir(t)
	pin := bpf.MapPinPath(root, "")
	l := startTestLB(t, pin, true)
	web := testService("web")
	db := testService("db", func(s *corev1.Service) {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.20", []string{"10.96.0.20"}
	})
	l.apply([]*corev1.Service{web, db}, []*discoveryv1.EndpointSlice{
		testSlice("web", "web-1", 8080, ready("10.0.1.5", "n1"), ready("10.0.1.6", "n2")),
		// The same pod backs db on the same port: one backend entry.
		testSlice("db", "db-1", 8080, ready("10.0.1.6", "n2")),
	})
	l.waitReconciled(2)
	// Ids depend on the order the services are derived in.
	want := []string{
		"10.96.0.10:80/TCP id=N 10.0.1.5:8080/TCP (N) [active], 10.0.1.6:8080/TCP (N) [active]",
		"10.96.0.20:80/TCP id=N 10.0.1.6:8080/TCP (N) [active]",
	}
	got := l.dump()
	for i := range got {
		got[i] = idPattern.ReplaceAllString(got[i], "${1}N$2")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("maps hold\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	be, _, _ := l.tables.Backends.Get(l.db.ReadTxn(), BackendAddressIndex.Query(addr("10.0.1.6:8080/TCP")))
	if len(be.Services) != 2 {
		t.Errorf("shared backend %+v, want it to serve both services", be)
	}
	var mg bpf.LB4Maglev
	feWeb, _, _ := l.tables.Frontends.Get(l.db.ReadTxn(), FrontendAddressIndex.Query(addr("10.96.0.10:80/TCP")))
	mg, err := l.maps.maglev.Lookup(feWeb.ID)
	if err != nil || mg.BackendIds[0] == 0 {
		t.Errorf("no Maglev table for web: %v", err)
	}

	// Scale down: the slot beyond the count and the unused backend go.
	l.apply(nil, []*discoveryv1.EndpointSlice{testSlice("web", "web-1", 8080, ready("10.0.1.6", "n2"))})
	waitFor(t, "web down to one backend", func() bool {
		return len(l.dump()) == 2 && strings.Count(l.dump()[0], "10.0.1.") == 1
	})
	if _, _, found := l.tables.Backends.Get(l.db.ReadTxn(), BackendAddressIndex.Query(addr("10.0.1.5:8080/TCP"))); found {
		t.Error("backend 10.0.1.5 still in the backends table after its only service dropped it")
	}
	if be, _, _ := l.tables.Backends.Get(l.db.ReadTxn(), BackendAddressIndex.Query(addr("10.0.1.6:8080/TCP"))); len(be.Services) != 2 {
		t.Errorf("backend 10.0.1.6 serves %v, want both services still", be.Services)
	}
	if _, err := l.maps.backends.Lookup(feWeb.Backends[0].ID); err == nil {
		t.Errorf("backend %s still in the map after its last frontend dropped it", feWeb.Backends[0].Address)
	}
	if _, err := l.maps.services.Lookup(bpf.NewLB4Key(feWeb.Address.AddrPort(), bpf.ProtoTCP, 2)); err == nil {
		t.Error("slot 2 of web left behind")
	}

	// A terminating backend next to an active one takes no slot but stays
	// in the backends map, so its connections finish.
	l.apply(nil, []*discoveryv1.EndpointSlice{testSlice("web", "web-1", 8080, ready("10.0.1.6", "n2"), terminating("10.0.1.7", "n2"))})
	waitFor(t, "terminating backend in the backends map", func() bool {
		b, _, ok := l.tables.Backends.Get(l.db.ReadTxn(), BackendAddressIndex.Query(addr("10.0.1.7:8080/TCP")))
		if !ok || b.State != BackendStateTerminating {
			return false
		}
		_, err := l.maps.backends.Lookup(b.ID)
		return err == nil
	})
	waitFor(t, "web reconciled", func() bool {
		fe, _, _ := l.tables.Frontends.Get(l.db.ReadTxn(), FrontendAddressIndex.Query(addr("10.96.0.10:80/TCP")))
		return fe.Status.IsDone() && len(fe.Backends) == 2
	})
	if got := l.dump(); len(got) != 2 || strings.Contains(got[0], "10.0.1.7") {
		t.Errorf("the terminating backend took a slot:\n%s", strings.Join(got, "\n"))
	}
	l.apply(nil, []*discoveryv1.EndpointSlice{testSlice("web", "web-1", 8080, ready("10.0.1.6", "n2"))})
	waitFor(t, "web back to one backend", func() bool {
		fe, _, _ := l.tables.Frontends.Get(l.db.ReadTxn(), FrontendAddressIndex.Query(addr("10.96.0.10:80/TCP")))
		return fe.Status.IsDone() && len(fe.Backends) == 1
	})

	// An agent restart keeps the ids, and prunes what was deleted while
	// it was down.
	ids := map[string]uint16{}
	for fe := range l.tables.Frontends.All(l.db.ReadTxn()) {
		ids[fe.Address.String()] = fe.ID
	}
	l.stop()
	l2 := startTestLB(t, pin, true)
	l2.apply([]*corev1.Service{web}, []*discoveryv1.EndpointSlice{testSlice("web", "web-1", 8080, ready("10.0.1.6", "n2"))})
	l2.waitReconciled(1)
	fe, _, _ := l2.tables.Frontends.Get(l2.db.ReadTxn(), FrontendAddressIndex.Query(addr("10.96.0.10:80/TCP")))
	if fe.ID != ids["10.96.0.10:80/TCP"] {
		t.Errorf("web has id %d after the restart, had %d", fe.ID, ids["10.96.0.10:80/TCP"])
	}
	waitFor(t, "db pruned after the restart", func() bool { return len(l2.dump()) == 1 })
	if _, err := l2.maps.reverseNAT.Lookup(ids["10.96.0.20:80/TCP"]); err == nil {
		t.Error("reverse NAT entry of the deleted db service survived the prune")
	}

	// Deleting the service removes everything.
	l2.apply(nil, nil, web)
	waitFor(t, "maps empty", func() bool { return len(l2.dump()) == 0 })
}

var idPattern = regexp.MustCompile(`(id=|\()[0-9]+(\)?)`)

func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testMapSize is bpf-lb-map-max for the tests: 10k services with 10
// backends take 110k slots.
const testMapSize = 1 << 18
