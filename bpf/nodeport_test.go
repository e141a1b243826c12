package bpf

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// TestNodePortFromOutside connects from a namespace outside the node to a
// NodePort on the node's address and to a LoadBalancer IP routed to the
// node: translated on the node's external device to a pod backend, the
// client's address kept, replies translated back.
func TestNodePortFromOutside(t *testing.T) {
	n := newTestNode(t)
	a := n.addPod(3)
	d, err := Load(n.config(), nil)
	must(t, err)
	t.Cleanup(func() { d.Close() })
	n.attach(d, a)
	serveName(a.listenTCP(t, 8080), "a")

	nodeIP, outIP := netip.MustParseAddr("192.168.50.1"), netip.MustParseAddr("192.168.50.2")
	lbIP := netip.MustParseAddr("198.51.100.7")
	out := newNamedNetns(t, n.prefix+"-out")
	must(t, n.nl.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ext0"}, PeerName: "eth0", PeerNamespace: netlink.NsFd(out)}))
	ext, err := n.nl.LinkByName("ext0")
	must(t, err)
	must(t, n.nl.AddrAdd(ext, &netlink.Addr{IPNet: netlink.NewIPNet(nodeIP.AsSlice())}))
	must(t, n.nl.LinkSetUp(ext))
	must(t, n.nl.RouteAdd(&netlink.Route{LinkIndex: ext.Attrs().Index, Dst: netlink.NewIPNet(outIP.AsSlice()), Scope: netlink.SCOPE_LINK}))
	onl, err := netlink.NewHandleAt(out)
	must(t, err)
	defer onl.Close()
	eth0, err := onl.LinkByName("eth0")
	must(t, err)
	lo, _ := onl.LinkByName("lo")
	must(t, onl.LinkSetUp(lo))
	must(t, onl.AddrAdd(eth0, &netlink.Addr{IPNet: netlink.NewIPNet(outIP.AsSlice())}))
	must(t, onl.LinkSetUp(eth0))
	must(t, onl.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Dst: netlink.NewIPNet(nodeIP.AsSlice()), Scope: netlink.SCOPE_LINK}))
	must(t, onl.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Dst: netlink.NewIPNet(lbIP.AsSlice()), Gw: nodeIP.AsSlice()}))

	h, err := LoadHost(n.config(), nodeIP, nil)
	must(t, err)
	t.Cleanup(func() { h.Close() })
	must(t, inNetns(n.ns, func() error { return h.Attach("ext0") }))

	lb := testLB{t, d}
	be := testBackend{1, netip.AddrPortFrom(a.ip, 8080)}
	nodePort := netip.AddrPortFrom(netip.IPv4Unspecified(), 30080)
	lb.set(nodePort, ProtoTCP, 1, SvcFlagNodePort, 0, be)
	lbFE := netip.AddrPortFrom(lbIP, 80)
	lb.set(lbFE, ProtoTCP, 2, SvcFlagLoadBalancer, 0, be)
	lb.set(netip.AddrPortFrom(netip.IPv4Unspecified(), 30081), ProtoTCP, 3, SvcFlagNodePort, 0)

	client := &testPod{name: "outside", ns: out, ip: outIP}
	for _, fe := range []netip.AddrPort{netip.AddrPortFrom(nodeIP, 30080), lbFE} {
		name, peer, remote, err := askName(client, fe)
		if err != nil {
			t.Fatalf("outside -> %s: %v", fe, err)
		}
		if name != "a" || remote != fe.String() || !strings.HasPrefix(peer, outIP.String()+":") {
			t.Fatalf("outside -> %s: served by %s, client saw %s, backend saw %s; want a, %s, the client's own %s",
				fe, name, remote, peer, fe, outIP)
		}
	}
	if _, _, _, err := askName(client, netip.AddrPortFrom(nodeIP, 30081)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("NodePort without backends: %v, want connection refused", err)
	}
	// Other traffic to the node is left alone.
	ln := listenIn(t, n.ns, netip.AddrPortFrom(nodeIP, 9000))
	serveName(ln, "node")
	if name, _, _, err := askName(client, netip.AddrPortFrom(nodeIP, 9000)); err != nil || name != "node" {
		t.Fatalf("outside -> node:9000: %s, %v", name, err)
	}
}

func listenIn(t *testing.T, ns netns.NsHandle, addr netip.AddrPort) net.Listener {
	var l net.Listener
	must(t, inNetns(ns, func() (err error) { l, err = net.Listen("tcp4", addr.String()); return err }))
	t.Cleanup(func() { l.Close() })
	return l
}
