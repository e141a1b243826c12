package netlink

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func linkAddrs(t *testing.T, h *vnl.Handle, name string) []string {
	t.Helper()
	link, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := h.AddrList(link, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		out = append(out, a.IPNet.String())
	}
	slices.Sort(out)
	return out
}

func TestAddrOps(t *testing.T) {
	h, ipn := testNetNS(t, "addrs")
	ctx := context.Background()
	ipn("addr add 10.99.2.1/24 dev hvrc0") // stale on an owned link
	ipn("addr add 10.98.9.1/24 dev hvrc1") // not ours

	ops := NewAddrOps(h, []string{"hvrc0"}, func(a Addr) Addr { return a })
	want := []Addr{
		{Device: "hvrc0", Prefix: netip.MustParsePrefix("10.99.0.1/24")},
		{Device: "hvrc0", Prefix: netip.MustParsePrefix("10.99.1.1/24")},
	}
	for _, a := range want {
		if err := ops.Update(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := ops.Update(ctx, Addr{Device: "hvrc1", Prefix: netip.MustParsePrefix("10.98.1.1/24")}); err == nil ||
		!strings.Contains(err.Error(), "not one of the links") {
		t.Fatalf("address on a link not owned: %v, want refusal", err)
	}
	if err := ops.Prune(ctx, slices.Values(want)); err != nil {
		t.Fatal(err)
	}
	if got, exp := linkAddrs(t, h, "hvrc0"), []string{"10.99.0.1/24", "10.99.1.1/24"}; !slices.Equal(got, exp) {
		t.Fatalf("hvrc0: got %v want %v", got, exp)
	}
	if got, exp := linkAddrs(t, h, "hvrc1"), []string{"10.98.0.1/24", "10.98.9.1/24"}; !slices.Equal(got, exp) {
		t.Fatalf("hvrc1 touched: got %v want %v", got, exp)
	}
	if err := ops.Delete(ctx, want[1]); err != nil {
		t.Fatal(err)
	}
	if err := ops.Delete(ctx, want[1]); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if got, exp := linkAddrs(t, h, "hvrc0"), []string{"10.99.0.1/24"}; !slices.Equal(got, exp) {
		t.Fatalf("after delete: got %v want %v", got, exp)
	}
}

func TestNeighborOps(t *testing.T) {
	h, ipn := testNetNS(t, "neigh")
	ctx := context.Background()
	ipn("neigh add 10.99.0.50 lladdr 02:00:00:00:00:50 dev hvrc0 nud permanent") // stale, owned link
	ipn("neigh add 10.99.0.51 lladdr 02:00:00:00:00:51 dev hvrc0 nud reachable") // learnt-looking
	ipn("neigh add 10.98.0.50 lladdr 02:00:00:00:01:50 dev hvrc1 nud permanent") // not ours

	ops := NewNeighborOps(h, []string{"hvrc0"}, func(n Neighbor) Neighbor { return n })
	mac, _ := net.ParseMAC("02:00:00:00:00:10")
	want := Neighbor{Device: "hvrc0", IP: netip.MustParseAddr("10.99.0.10"), MAC: mac}
	if err := ops.Update(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := ops.Prune(ctx, slices.Values([]Neighbor{want})); err != nil {
		t.Fatal(err)
	}
	list := func(link string) []string {
		l, err := h.LinkByName(link)
		if err != nil {
			t.Fatal(err)
		}
		ns, err := h.NeighList(l.Attrs().Index, unix.AF_INET)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range ns {
			out = append(out, n.IP.String()+" "+n.HardwareAddr.String())
		}
		slices.Sort(out)
		return out
	}
	if got, exp := list("hvrc0"), []string{"10.99.0.10 02:00:00:00:00:10", "10.99.0.51 02:00:00:00:00:51"}; !slices.Equal(got, exp) {
		t.Fatalf("hvrc0: got %v want %v", got, exp)
	}
	if got, exp := list("hvrc1"), []string{"10.98.0.50 02:00:00:00:01:50"}; !slices.Equal(got, exp) {
		t.Fatalf("hvrc1 touched: got %v want %v", got, exp)
	}
	if err := ops.Delete(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, exp := list("hvrc0"), []string{"10.99.0.51 02:00:00:00:00:51"}; !slices.Equal(got, exp) {
		t.Fatalf("after delete: got %v want %v", got, exp)
	}
}
