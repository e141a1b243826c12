package bpf

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hivenet/hivenet/test/netnstest"
)

// Test topology: a "node" network namespace and "pods", each a namespace
// joined to the node by a veth pair (node side hvdp-lxcN, pod side eth0),
// wired as Cilium wires them: a /32 address in the pod, a link-scope route
// to the gateway and a default route through it. Neighbours are static on
// both sides so no ARP is needed. Every name starts with hvdp-.

const gatewayIP = "10.200.0.1"

type testNode struct {
	tb     testing.TB
	prefix string
	ns     netns.NsHandle
	nl     *netlink.Handle
	root   string // bpf root of this test's datapath
	pods   []*testPod
}

type testPod struct {
	name    string
	ns      netns.NsHandle
	ip      netip.Addr
	lxc     string // node-side veth
	ifindex int    // of lxc, in the node namespace
	mac     net.HardwareAddr
	nodeMAC net.HardwareAddr
	id      uint16
}

func randomPrefix(tb testing.TB) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return "hvdp-" + hex.EncodeToString(b)
}

// inNetns runs f on an OS thread switched into ns.
var inNetns = netnstest.Do

func newNamedNetns(tb testing.TB, name string) netns.NsHandle {
	var ns netns.NsHandle
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		ns, err = netns.NewNamed(name)
		if err != nil {
			errc <- fmt.Errorf("create netns %s: %w", name, err)
			return
		}
		if err := netns.Set(orig); err != nil {
			errc <- err
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	if err := <-errc; err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ns.Close()
		netns.DeleteNamed(name)
	})
	return ns
}

func writeSysctl(ns netns.NsHandle, path, value string) error {
	return inNetns(ns, func() error {
		return os.WriteFile(filepath.Join("/proc/sys", path), []byte(value), 0o644)
	})
}

// newTestNode creates the node namespace, with forwarding on and the
// gateway address on lo.
func newTestNode(tb testing.TB) *testNode {
	if os.Geteuid() != 0 {
		tb.Fatal("this test needs root: it creates network namespaces, veths and BPF programs")
	}
	n := &testNode{tb: tb, prefix: randomPrefix(tb)}
	n.ns = newNamedNetns(tb, n.prefix+"-node")
	n.root = "/sys/fs/bpf/" + n.prefix
	tb.Cleanup(func() {
		if err := RemoveAll(n.root); err != nil {
			tb.Error(err)
		}
	})
	var err error
	if n.nl, err = netlink.NewHandleAt(n.ns); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(n.nl.Close)
	lo, err := n.nl.LinkByName("lo")
	if err != nil {
		tb.Fatal(err)
	}
	must(tb, n.nl.LinkSetUp(lo))
	must(tb, n.nl.AddrAdd(lo, &netlink.Addr{IPNet: netlink.NewIPNet(net.ParseIP(gatewayIP))}))
	must(tb, writeSysctl(n.ns, "net/ipv4/ip_forward", "1"))
	return n
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// config returns a datapath configuration for this node's bpf root.
func (n *testNode) config() Config {
	cfg := DefaultConfig
	cfg.BPFRoot = n.root
	cfg.CTGlobalTCPMax = 1 << 16
	cfg.CTGlobalAnyMax = 1 << 16
	return cfg
}

// addPod creates a pod with address 10.200.0.<host>.
func (n *testNode) addPod(host int) *testPod {
	tb := n.tb
	p := &testPod{
		name: fmt.Sprintf("%s-p%d", n.prefix, host),
		ip:   netip.AddrFrom4([4]byte{10, 200, 0, byte(host)}),
		lxc:  fmt.Sprintf("hvdp-lxc%d", host),
		id:   uint16(1000 + host),
	}
	p.ns = newNamedNetns(tb, p.name)

	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: p.lxc},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(p.ns),
	}
	must(tb, n.nl.LinkAdd(veth))
	lxc, err := n.nl.LinkByName(p.lxc)
	must(tb, err)
	p.ifindex = lxc.Attrs().Index
	p.nodeMAC = lxc.Attrs().HardwareAddr
	must(tb, n.nl.LinkSetUp(lxc))

	pnl, err := netlink.NewHandleAt(p.ns)
	must(tb, err)
	defer pnl.Close()
	eth0, err := pnl.LinkByName("eth0")
	must(tb, err)
	p.mac = eth0.Attrs().HardwareAddr
	lo, err := pnl.LinkByName("lo")
	must(tb, err)
	must(tb, pnl.LinkSetUp(lo))
	must(tb, pnl.LinkSetUp(eth0))
	must(tb, pnl.AddrAdd(eth0, &netlink.Addr{IPNet: netlink.NewIPNet(p.ip.AsSlice())}))
	gw := net.ParseIP(gatewayIP)
	must(tb, pnl.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Dst: netlink.NewIPNet(gw), Scope: netlink.SCOPE_LINK}))
	must(tb, pnl.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: gw}))
	must(tb, pnl.NeighAdd(&netlink.Neigh{LinkIndex: eth0.Attrs().Index, State: netlink.NUD_PERMANENT, IP: gw, HardwareAddr: p.nodeMAC}))

	must(tb, n.nl.RouteAdd(&netlink.Route{LinkIndex: p.ifindex, Dst: netlink.NewIPNet(p.ip.AsSlice()), Scope: netlink.SCOPE_LINK}))
	must(tb, n.nl.NeighAdd(&netlink.Neigh{LinkIndex: p.ifindex, State: netlink.NUD_PERMANENT, IP: p.ip.AsSlice(), HardwareAddr: p.mac}))
	n.pods = append(n.pods, p)
	return p
}

func (p *testPod) endpoint() Endpoint {
	return Endpoint{
		IP:       p.ip,
		IfIndex:  p.ifindex,
		ID:       p.id,
		Identity: uint32(p.id) + 10000,
		MAC:      p.mac,
		NodeMAC:  p.nodeMAC,
	}
}

// attach loads nothing: it attaches d to every pod of n and writes the
// pods to the endpoints map.
func (n *testNode) attach(d *Datapath, pods ...*testPod) AttachMode {
	n.tb.Helper()
	var mode AttachMode
	for _, p := range pods {
		must(n.tb, d.UpsertEndpoint(p.endpoint()))
		must(n.tb, inNetns(n.ns, func() error {
			var err error
			mode, err = d.Attach(p.lxc)
			return err
		}))
	}
	return mode
}

// listen opens a listener of network ("tcp4", "udp4", "ip4:icmp") in the
// pod's namespace.
func (p *testPod) listenTCP(tb testing.TB, port int) net.Listener {
	var l net.Listener
	must(tb, inNetns(p.ns, func() (err error) {
		l, err = net.Listen("tcp4", netip.AddrPortFrom(p.ip, uint16(port)).String())
		return err
	}))
	tb.Cleanup(func() { l.Close() })
	return l
}

func (p *testPod) listenPacket(tb testing.TB, network, addr string) net.PacketConn {
	var c net.PacketConn
	must(tb, inNetns(p.ns, func() (err error) {
		c, err = net.ListenPacket(network, addr)
		return err
	}))
	tb.Cleanup(func() { c.Close() })
	return c
}

func (p *testPod) dial(network string, dst netip.AddrPort) (net.Conn, error) {
	var c net.Conn
	err := inNetns(p.ns, func() (err error) {
		c, err = net.Dial(network, dst.String())
		return err
	})
	return c, err
}

// spoofUDP sends one UDP datagram from the pod with an arbitrary source
// address, through a raw socket.
func (p *testPod) spoofUDP(src, dst netip.AddrPort) error {
	return inNetns(p.ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		pkt := make([]byte, 20+8+4)
		pkt[0] = 0x45
		pkt[2], pkt[3] = 0, byte(len(pkt))
		pkt[8] = 64
		pkt[9] = unix.IPPROTO_UDP
		s, d := src.Addr().As4(), dst.Addr().As4()
		copy(pkt[12:], s[:])
		copy(pkt[16:], d[:])
		pkt[20], pkt[21] = byte(src.Port()>>8), byte(src.Port())
		pkt[22], pkt[23] = byte(dst.Port()>>8), byte(dst.Port())
		pkt[25] = 12
		copy(pkt[28:], "spof")
		return unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: d})
	})
}

// forwardedDatagrams returns the node namespace's Ip ForwDatagrams.
func (n *testNode) forwardedDatagrams() int {
	n.tb.Helper()
	var snmp []byte
	must(n.tb, inNetns(n.ns, func() (err error) {
		// thread-self: /proc/self/net is the thread group leader's.
		snmp, err = os.ReadFile("/proc/thread-self/net/snmp")
		return err
	}))
	lines := strings.Split(string(snmp), "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "Ip: ") || !strings.HasPrefix(lines[i+1], "Ip: ") {
			continue
		}
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		for j, name := range names {
			if name == "ForwDatagrams" && j < len(values) {
				v, err := strconv.Atoi(values[j])
				must(n.tb, err)
				return v
			}
		}
	}
	n.tb.Fatalf("no Ip ForwDatagrams in /proc/net/snmp of the node")
	return 0
}
