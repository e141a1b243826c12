package netlink

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const testTable = 100

// tableRoutes lists table testTable as "dst proto" strings, sorted.
func tableRoutes(t *testing.T, h *vnl.Handle) []string {
	t.Helper()
	routes, err := h.RouteListFiltered(unix.AF_UNSPEC, &vnl.Route{Table: testTable}, vnl.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range routes {
		out = append(out, keyOf(&r).dst.String()+" "+r.Protocol.String())
	}
	sort.Strings(out)
	return out
}

func TestRouteOps(t *testing.T) {
	h, ipn := testNetNS(t, "routes")
	ctx := context.Background()

	// Routes hivenet did not install, one of them to a destination it will
	// ask for, and a stale one of hivenet's from a previous run.
	ipn("route add 10.50.0.0/16 via 10.99.0.2 table 100 proto static")
	ipn("route add 10.60.0.0/16 via 10.99.0.2 table 100")
	ipn("route add 10.70.0.0/16 via 10.99.0.2 table 100 proto 211")
	ipn("route add 10.80.0.0/16 via 10.99.0.2") // main table

	ops := NewRouteOps(h, testTable, func(r Route) Route { return r })
	want := []Route{
		{Dst: netip.MustParsePrefix("10.1.0.0/16"), Gw: netip.MustParseAddr("10.99.0.2")},
		{Dst: netip.MustParsePrefix("10.2.0.0/16"), Device: "hvrc0", Scope: unix.RT_SCOPE_LINK},
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gw: netip.MustParseAddr("10.98.0.254"), Priority: 10},
	}
	for _, r := range want {
		if err := ops.Update(ctx, r); err != nil {
			t.Fatalf("update %s: %v", r, err)
		}
	}
	// Twice: updates are idempotent.
	for _, r := range want {
		if err := ops.Update(ctx, r); err != nil {
			t.Fatalf("second update %s: %v", r, err)
		}
	}
	conflict := Route{Dst: netip.MustParsePrefix("10.50.0.0/16"), Gw: netip.MustParseAddr("10.99.0.3")}
	if err := ops.Update(ctx, conflict); !errors.Is(err, ErrForeignRoute) {
		t.Fatalf("update over a foreign route: %v, want ErrForeignRoute", err)
	}

	// A foreign route appearing after the first look is not overwritten
	// either.
	ipn("route add 10.3.0.0/16 via 10.99.0.2 table 100 proto static")
	late := Route{Dst: netip.MustParsePrefix("10.3.0.0/16"), Gw: netip.MustParseAddr("10.99.0.3")}
	if err := ops.Update(ctx, late); !errors.Is(err, ErrForeignRoute) {
		t.Fatalf("update over a foreign route added later: %v, want ErrForeignRoute", err)
	}
	ipn("route del 10.3.0.0/16 table 100 proto static")

	if err := ops.Prune(ctx, slices.Values(want)); err != nil {
		t.Fatal(err)
	}
	got := tableRoutes(t, h)
	expect := []string{"0.0.0.0/0 211", "10.1.0.0/16 211", "10.2.0.0/16 211", "10.50.0.0/16 static", "10.60.0.0/16 boot"}
	if !slices.Equal(got, expect) {
		t.Fatalf("table after prune:\n got %v\nwant %v", got, expect)
	}

	// Deleting a route that is not there leaves hivenet's route to the
	// same destination with another priority alone (asked to delete
	// metric 0, the kernel would take the next metric it finds).
	ipn("route add 10.4.0.0/16 via 10.98.0.2 table 100 proto 211 metric 5")
	if err := ops.Prune(ctx, slices.Values(append(want, Route{Dst: netip.MustParsePrefix("10.4.0.0/16"), Priority: 5}))); err != nil {
		t.Fatal(err)
	}
	if err := ops.Delete(ctx, Route{Dst: netip.MustParsePrefix("10.4.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	if out := ipn("route show table 100 10.4.0.0/16"); !strings.Contains(out, "metric 5") {
		t.Fatalf("deleting a route that is not there removed another: %q", out)
	}
	ipn("route del 10.4.0.0/16 table 100 proto 211 metric 5")

	// Deleting removes only hivenet's route: asking to delete a
	// destination that only a foreign route has leaves it.
	if err := ops.Delete(ctx, want[0]); err != nil {
		t.Fatal(err)
	}
	if err := ops.Delete(ctx, want[0]); err != nil {
		t.Fatalf("second delete must succeed: %v", err)
	}
	if err := ops.Delete(ctx, conflict); err != nil {
		t.Fatal(err)
	}
	got = tableRoutes(t, h)
	expect = []string{"0.0.0.0/0 211", "10.2.0.0/16 211", "10.50.0.0/16 static", "10.60.0.0/16 boot"}
	if !slices.Equal(got, expect) {
		t.Fatalf("table after deletes:\n got %v\nwant %v", got, expect)
	}

	// Nothing wanted: only hivenet's routes go, in this table only.
	if err := ops.Prune(ctx, slices.Values([]Route(nil))); err != nil {
		t.Fatal(err)
	}
	got = tableRoutes(t, h)
	expect = []string{"10.50.0.0/16 static", "10.60.0.0/16 boot"}
	if !slices.Equal(got, expect) {
		t.Fatalf("table after pruning all:\n got %v\nwant %v", got, expect)
	}
	main, err := h.RouteListFiltered(unix.AF_INET, &vnl.Route{Dst: ipNet(netip.MustParsePrefix("10.80.0.0/16"))}, vnl.RT_FILTER_DST)
	if err != nil || len(main) != 1 {
		t.Fatalf("main table route touched: %v %v", main, err)
	}
}

func TestRouteOpsIPv6(t *testing.T) {
	h, ipn := testNetNS(t, "routes6")
	ctx := context.Background()
	ipn("addr add fd00:99::1/64 dev hvrc0 nodad")
	ipn("route add fd00:50::/64 via fd00:99::2 table 100 proto static")
	ops := NewRouteOps(h, testTable, func(r Route) Route { return r })
	r := Route{Dst: netip.MustParsePrefix("fd00:1::/64"), Gw: netip.MustParseAddr("fd00:99::2"), Device: "hvrc0"}
	if err := ops.Update(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := ops.Prune(ctx, slices.Values([]Route{r})); err != nil {
		t.Fatal(err)
	}
	got := tableRoutes(t, h)
	expect := []string{"fd00:1::/64 211", "fd00:50::/64 static"}
	if !slices.Equal(got, expect) {
		t.Fatalf("got %v want %v", got, expect)
	}
}
