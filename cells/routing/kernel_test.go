package routing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"testing"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/hivenet/hivenet/cells/nodes"
	"github.com/hivenet/hivenet/reconcilers/netlink"
)

// newTestNetns makes a network namespace named hvnd-* and a handle in it.
func newTestNetns(t *testing.T) *vnl.Handle { return newNetns(t) }

func newBenchNetns(b *testing.B) *vnl.Handle { return newNetns(b) }

func newNetns(t testing.TB) *vnl.Handle {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test creates a network namespace and a VXLAN device: run it as root")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := "hvnd-" + hex.EncodeToString(b) + "-ops"
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	h, err := netlink.NewHandle("/var/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func TestDeviceKeptAcrossRestartsAndRecreatedOnNewPort(t *testing.T) {
	h := newTestNetns(t)
	log := slog.New(slog.DiscardHandler)
	if err := ensureDevice(h, DefaultVXLANPort, log); err != nil {
		t.Fatal(err)
	}
	l1, err := h.LinkByName(DeviceName)
	if err != nil {
		t.Fatal(err)
	}
	vx := l1.(*vnl.Vxlan)
	if vx.Port != DefaultVXLANPort || vx.VxlanId != VNI || vx.Learning || l1.Attrs().Flags&unix.IFF_UP == 0 {
		t.Fatalf("device %+v: want port 8472, VNI %d, no learning, up", vx, VNI)
	}
	mac := VTEPMAC(netip.MustParseAddr("192.168.7.1"))
	if err := setDeviceMAC(h, mac); err != nil {
		t.Fatal(err)
	}
	// A restarted agent keeps the device, so its entries survive.
	if err := ensureDevice(h, DefaultVXLANPort, log); err != nil {
		t.Fatal(err)
	}
	l2, _ := h.LinkByName(DeviceName)
	if l2.Attrs().Index != l1.Attrs().Index || l2.Attrs().HardwareAddr.String() != mac.String() {
		t.Fatalf("device recreated or MAC lost: index %d -> %d, MAC %s", l1.Attrs().Index, l2.Attrs().Index, l2.Attrs().HardwareAddr)
	}
	if err := ensureDevice(h, 4789, log); err != nil {
		t.Fatal(err)
	}
	l3, _ := h.LinkByName(DeviceName)
	if l3.(*vnl.Vxlan).Port != 4789 {
		t.Fatalf("port not changed: %+v", l3)
	}
	if err := removeDevice(h, log); err != nil {
		t.Fatal(err)
	}
	if _, err := h.LinkByName(DeviceName); err == nil {
		t.Fatal("device still there after removeDevice")
	}
	if err := removeDevice(h, log); err != nil {
		t.Fatalf("removing a missing device: %v", err)
	}
}

func TestPeerOpsInstallPruneDelete(t *testing.T) {
	h := newTestNetns(t)
	if err := ensureDevice(h, DefaultVXLANPort, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	ops := newPeerOps(h, DeviceName)
	ctx := context.Background()
	peer := func(router, vtep string) *Peer {
		v := netip.MustParseAddr(vtep)
		return &Peer{Node: vtep, IP: netip.MustParseAddr(router), MAC: VTEPMAC(v), VTEP: v}
	}
	p1, p2 := peer("10.244.1.1", "192.168.7.2"), peer("10.244.2.1", "192.168.7.3")
	for _, p := range []*Peer{p1, p2} {
		if err := ops.Update(ctx, p); err != nil {
			t.Fatal(err)
		}
		// Idempotent, as the reconciler requires.
		if err := ops.Update(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	check := func(want ...*Peer) {
		t.Helper()
		link, _ := h.LinkByName(DeviceName)
		neighs, err := h.NeighList(link.Attrs().Index, unix.AF_INET)
		if err != nil {
			t.Fatal(err)
		}
		fdb, err := h.NeighList(link.Attrs().Index, unix.AF_BRIDGE)
		if err != nil {
			t.Fatal(err)
		}
		var gotN, gotF, wantN, wantF []string
		for _, n := range neighs {
			if n.State&unix.NUD_PERMANENT != 0 {
				gotN = append(gotN, n.IP.String()+" "+n.HardwareAddr.String())
			}
		}
		for _, f := range fdb {
			if f.State&unix.NUD_PERMANENT != 0 {
				gotF = append(gotF, f.HardwareAddr.String()+" "+f.IP.String())
			}
		}
		for _, p := range want {
			wantN = append(wantN, p.IP.String()+" "+p.MAC.String())
			wantF = append(wantF, p.MAC.String()+" "+p.VTEP.String())
		}
		for _, s := range [][]string{gotN, gotF, wantN, wantF} {
			slices.Sort(s)
		}
		if !slices.Equal(gotN, wantN) || !slices.Equal(gotF, wantF) {
			t.Fatalf("neighbours %v FDB %v, want %v and %v", gotN, gotF, wantN, wantF)
		}
	}
	check(p1, p2)
	if err := ops.Prune(ctx, slices.Values([]*Peer{p2})); err != nil {
		t.Fatal(err)
	}
	check(p2)
	if err := ops.Delete(ctx, p2); err != nil {
		t.Fatal(err)
	}
	check()
	if err := ops.Delete(ctx, p2); err != nil {
		t.Fatalf("deleting what is gone: %v", err)
	}
}

// BenchmarkPeerOpsUpdate measures installing tunnel peers (FDB and
// neighbour entry each) into the kernel, the work a node does per remote
// node joining the cluster in tunnel mode.
func BenchmarkPeerOpsUpdate(b *testing.B) {
	h := newBenchNetns(b)
	if err := ensureDevice(h, DefaultVXLANPort, slog.New(slog.DiscardHandler)); err != nil {
		b.Fatal(err)
	}
	ops := newPeerOps(h, DeviceName)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		v := netip.AddrFrom4([4]byte{192, 168, byte(i >> 8), byte(i)})
		p := &Peer{IP: netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1}), MAC: VTEPMAC(v), VTEP: v}
		if err := ops.Update(ctx, p); err != nil {
			b.Fatal(err)
		}
		i = (i + 1) % 60000
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "peers/s")
}

func TestRouteOpsDeleteRemovesLinkScopeRoutes(t *testing.T) {
	h := newTestNetns(t)
	if err := ensureDevice(h, DefaultVXLANPort, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	ops := newRouteOps(h, unix.RT_TABLE_MAIN)
	ctx := context.Background()
	all := []*nodes.Node{
		{Name: "a", Local: true, InternalIP: netip.MustParseAddr("192.168.7.1")},
		{Name: "b", InternalIP: netip.MustParseAddr("192.168.7.2"),
			PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.2.0/24")}, RouterIP: netip.MustParseAddr("10.244.2.1")},
	}
	routes, _ := Desired(ModeTunnel, all)
	// The host route first: the gateway route needs it.
	slices.Reverse(routes)
	for _, r := range routes {
		if err := ops.Update(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		rs, err := h.RouteListFiltered(unix.AF_INET, &vnl.Route{Table: unix.RT_TABLE_MAIN, Protocol: netlink.RouteProtocol},
			vnl.RT_FILTER_TABLE|vnl.RT_FILTER_PROTOCOL)
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d routes installed, want 2", n)
	}
	slices.Reverse(routes)
	for _, r := range routes {
		if err := ops.Delete(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := ops.Delete(ctx, r); err != nil {
			t.Fatalf("deleting what is gone: %v", err)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("%d routes left after Delete", n)
	}
}
