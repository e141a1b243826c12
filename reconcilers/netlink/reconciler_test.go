package netlink

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

// desiredRoute is what a feature cell would put in its routes table.
type desiredRoute struct {
	Route  Route
	Status reconcilers.Status
}

var routeDst = statedb.Index[*desiredRoute, netip.Prefix]{
	Name:       "dst",
	FromObject: func(r *desiredRoute) index.KeySet { return index.NewKeySet(index.NetIPPrefix(r.Route.Dst)) },
	FromKey:    index.NetIPPrefix,
	Unique:     true,
}

// TestRoutesReconciler drives a table of routes into a test namespace's
// table 100 with the generic reconciler: routes appear, change and go, a
// stale route of a previous run is pruned after initialisation, a route
// that would replace a foreign one fails in its status, and routes of other
// protocols and tables are never touched.
func TestRoutesReconciler(t *testing.T) {
	h, ipn := testNetNS(t, "rtrec")
	ipn("route add 10.50.0.0/16 via 10.99.0.2 table 100 proto static")
	ipn("route add 10.60.0.0/16 via 10.99.0.2 table 100 proto 211") // a previous run's
	ipn("route add 10.70.0.0/16 via 10.99.0.2")                     // main table

	db := statedb.New()
	table := statedb.MustNewTable("routes", routeDst)
	if err := db.RegisterTable(table); err != nil {
		t.Fatal(err)
	}
	wtxn := db.WriteTxn(table)
	initDone := table.RegisterInitializer(wtxn, "test")
	wtxn.Commit()

	r, err := reconcilers.New(reconcilers.Config[*desiredRoute]{
		DB: db, Table: table,
		Operations:      NewRouteOps(h, testTable, func(d *desiredRoute) Route { return d.Route }),
		GetObjectStatus: func(d *desiredRoute) reconcilers.Status { return d.Status },
		SetObjectStatus: func(d *desiredRoute, s reconcilers.Status) *desiredRoute {
			c := *d
			c.Status = s
			return &c
		},
		Params: reconcilers.Params{PruneInterval: 10 * time.Millisecond, RetryBackoffMin: time.Hour, RetryBackoffMax: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	write := func(fn func(wtxn statedb.WriteTxn)) {
		t.Helper()
		wtxn := db.WriteTxn(table)
		fn(wtxn)
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		if _, err := r.WaitUntilReconciled(rctx, table.Revision(wtxn.Commit())); err != nil {
			t.Fatal(err)
		}
	}
	route := func(dst, gw string) *desiredRoute {
		return &desiredRoute{
			Route:  Route{Dst: netip.MustParsePrefix(dst), Gw: netip.MustParseAddr(gw)},
			Status: reconcilers.StatusPending(),
		}
	}
	status := func(dst string) reconcilers.Status {
		d, _, found := table.Get(db.ReadTxn(), routeDst.Query(netip.MustParsePrefix(dst)))
		if !found {
			t.Fatalf("no route %s in the table", dst)
		}
		return d.Status
	}

	write(func(wtxn statedb.WriteTxn) {
		table.Insert(wtxn, route("10.1.0.0/16", "10.99.0.2"))
		table.Insert(wtxn, route("10.2.0.0/16", "10.98.0.2"))
		table.Insert(wtxn, route("10.50.0.0/16", "10.99.0.3")) // taken by a static route
	})
	if s := status("10.1.0.0/16"); !s.IsDone() {
		t.Fatalf("10.1.0.0/16: %v", s)
	}
	if s := status("10.50.0.0/16"); s.Kind != reconcilers.StatusKindError {
		t.Fatalf("10.50.0.0/16 over a foreign route: %v, want error", s)
	}
	// Not initialised: the previous run's route is still there.
	expect := []string{"10.1.0.0/16 211", "10.2.0.0/16 211", "10.50.0.0/16 static", "10.60.0.0/16 211"}
	if got := tableRoutes(t, h); !slices.Equal(got, expect) {
		t.Fatalf("before init:\n got %v\nwant %v", got, expect)
	}

	wtxn = db.WriteTxn(table)
	initDone(wtxn)
	wtxn.Commit()
	expect = []string{"10.1.0.0/16 211", "10.2.0.0/16 211", "10.50.0.0/16 static"}
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(tableRoutes(t, h), expect) {
		if time.Now().After(deadline) {
			t.Fatalf("after init:\n got %v\nwant %v", tableRoutes(t, h), expect)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Change one route's gateway, delete another.
	write(func(wtxn statedb.WriteTxn) {
		table.Insert(wtxn, route("10.1.0.0/16", "10.98.0.9"))
		table.Delete(wtxn, route("10.2.0.0/16", "10.98.0.2"))
		table.Delete(wtxn, route("10.50.0.0/16", "10.99.0.3"))
	})
	expect = []string{"10.1.0.0/16 211", "10.50.0.0/16 static"}
	if got := tableRoutes(t, h); !slices.Equal(got, expect) {
		t.Fatalf("after changes:\n got %v\nwant %v", got, expect)
	}
	if out := ipn("route show table 100 10.1.0.0/16"); !strings.Contains(out, "via 10.98.0.9") {
		t.Fatalf("10.1.0.0/16 in table 100 is %q, want via 10.98.0.9", out)
	}
	if out := ipn("route show 10.70.0.0/16"); out == "" {
		t.Fatal("the main table's route was removed")
	}
}
