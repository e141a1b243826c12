package bpf

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
)

// TestRestartAdoptsPins closes a Datapath as a stopping agent does and
// checks that programs stay attached and traffic keeps flowing, then that
// a new Datapath on the same bpf root adopts the pinned links and maps.
func TestRestartAdoptsPins(t *testing.T) {
	n := newTestNode(t)
	a, b, c := n.addPod(2), n.addPod(3), n.addPod(4)
	d1, err := Load(n.config(), nil)
	must(t, err)
	n.attach(d1, a, b, c)

	server := netip.AddrPortFrom(b.ip, 9000)
	serveEcho(b.listenTCP(t, 9000))
	conn, err := a.dial("tcp4", server)
	must(t, err)
	defer conn.Close()
	client := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	roundTrip := func(msg string) {
		t.Helper()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatalf("long-lived connection: %v", err)
		}
		buf := make([]byte, len(msg))
		if _, err := conn.Read(buf); err != nil || string(buf) != msg {
			t.Fatalf("long-lived connection: %q, %v", buf, err)
		}
	}
	roundTrip("before")

	must(t, d1.Close())

	// Agent down: programs still attached, traffic still redirected.
	for _, p := range []*testPod{a, b, c} {
		for _, h := range hooks {
			if _, err := os.Stat(d1.linkPin(p.lxc, h)); err != nil {
				t.Fatalf("link pin of %s gone after Close: %v", p.lxc, err)
			}
		}
	}
	forwarded := n.forwardedDatagrams()
	roundTrip("while down")
	if _, err := tcpExchange(a, server, "new connection while down"); err != nil {
		t.Fatal(err)
	}
	if fwd := n.forwardedDatagrams() - forwarded; fwd != 0 {
		t.Errorf("kernel forwarded %d datagrams while the agent was down: programs detached?", fwd)
	}

	// A device deleted while the agent is down leaves a stale pin.
	lxcC, err := n.nl.LinkByName(c.lxc)
	must(t, err)
	must(t, n.nl.LinkDel(lxcC))

	d2, err := Load(n.config(), nil)
	must(t, err)
	t.Cleanup(func() { d2.Close() })
	attached := d2.Attached()
	if len(attached) != 2 || attached[a.lxc] != AttachTCX || attached[b.lxc] != AttachTCX {
		t.Fatalf("adopted %v, want %s and %s with tcx", attached, a.lxc, b.lxc)
	}
	if _, err := os.Stat(d2.linkPin(c.lxc, hooks[0])); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pin of deleted device %s: %v, want it removed", c.lxc, err)
	}
	progInfo, err := d2.FromContainer().Info()
	must(t, err)
	progID, _ := progInfo.ID()
	for _, p := range []*testPod{a, b} {
		l, err := link.LoadPinnedLink(d2.linkPin(p.lxc, hooks[0]), nil)
		must(t, err)
		info, err := l.Info()
		l.Close()
		must(t, err)
		if info.Program != progID {
			t.Errorf("link of %s runs program %d, want the new datapath's %d", p.lxc, info.Program, progID)
		}
	}

	// The maps were adopted: the connection's entry counts on.
	key := NewCTKey(client, server, ProtoTCP, TupleOut)
	before, ok := findCT(t, d2, key)
	if !ok {
		t.Fatalf("conntrack entry of the open connection lost across restart; have:\n%s", dumpCT(t, d2))
	}
	roundTrip("after")
	after, _ := findCT(t, d2, key)
	if after.Entry.Packets <= before.Entry.Packets {
		t.Errorf("entry did not count the new packets: %d then %d", before.Entry.Packets, after.Entry.Packets)
	}
	var info EndpointInfo
	k := NewEndpointKey(a.ip)
	must(t, d2.EndpointsMap().Lookup(&k, &info))
	if int(info.Ifindex) != a.ifindex {
		t.Errorf("endpoint entry of %s lost across restart: %+v", a.ip, info)
	}

	// Attach after adoption (a restored endpoint) is idempotent.
	n.attach(d2, a)

	// Detached, the pods talk through the node's routing.
	for _, p := range []*testPod{a, b} {
		must(t, inNetns(n.ns, func() error { return d2.Detach(p.lxc) }))
		if _, err := os.Stat(d2.linkPin(p.lxc, hooks[0])); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pin of %s after Detach: %v", p.lxc, err)
		}
	}
	err = inNetns(n.ns, func() error { return d2.Detach(a.lxc) })
	if !errors.Is(err, ErrNotAttached) {
		t.Errorf("second Detach: %v, want ErrNotAttached", err)
	}
	forwarded = n.forwardedDatagrams()
	roundTrip("detached")
	if n.forwardedDatagrams() == forwarded {
		t.Errorf("no datagram forwarded by the kernel after Detach")
	}
}

// TestClsactFallback attaches with clsact and cls_bpf, as on kernels
// without TCX, checks traffic and conntrack, then moves to TCX.
func TestClsactFallback(t *testing.T) {
	n := newTestNode(t)
	a, b := n.addPod(2), n.addPod(3)
	cfg := n.config()
	cfg.EnableTCX = false
	d, err := Load(cfg, nil)
	must(t, err)
	t.Cleanup(func() { d.Close() })
	if mode := n.attach(d, a, b); mode != AttachTC {
		t.Fatalf("attached with %s, want tc", mode)
	}

	filters := func(p *testPod) map[string]*netlink.BpfFilter {
		var found map[string]*netlink.BpfFilter
		must(t, inNetns(n.ns, func() (err error) {
			found, err = tcFiltersOf(p.ifindex)
			return err
		}))
		return found
	}
	for _, p := range []*testPod{a, b} {
		if f := filters(p); len(f) != 2 || !f["from-container"].DirectAction {
			t.Fatalf("filters on %s: %v, want from-container and to-container in direct action", p.lxc, f)
		}
	}
	server := netip.AddrPortFrom(b.ip, 9100)
	serveEcho(b.listenTCP(t, 9100))
	forwarded := n.forwardedDatagrams()
	client, err := tcpExchange(a, server, "over cls_bpf")
	must(t, err)
	if fwd := n.forwardedDatagrams() - forwarded; fwd != 0 {
		t.Errorf("kernel forwarded %d datagrams: cls_bpf programs not redirecting", fwd)
	}
	for _, dir := range []uint8{TupleOut, TupleIn} {
		if _, ok := findCT(t, d, NewCTKey(client, server, ProtoTCP, dir)); !ok {
			t.Fatalf("no conntrack entry (flags %d); have:\n%s", dir, dumpCT(t, d))
		}
	}

	// Replacing keeps one filter per hook, running the new program.
	n.attach(d, a)
	if f := filters(a); len(f) != 2 {
		t.Fatalf("filters after re-attach: %v", f)
	}

	// The same root with TCX: links replace the filters.
	must(t, d.Close())
	cfg.EnableTCX = true
	d2, err := Load(cfg, nil)
	must(t, err)
	t.Cleanup(func() { d2.Close() })
	if mode := n.attach(d2, a, b); mode != AttachTCX {
		t.Fatalf("attached with %s, want tcx", mode)
	}
	if f := filters(a); len(f) != 0 {
		t.Errorf("tc filters left next to the TCX links: %v", f)
	}
	if _, err := tcpExchange(a, server, "over tcx"); err != nil {
		t.Fatal(err)
	}

	// And back: filters replace the links.
	must(t, d2.Close())
	cfg.EnableTCX = false
	d3, err := Load(cfg, nil)
	must(t, err)
	t.Cleanup(func() { d3.Close() })
	n.attach(d3, a, b)
	if _, err := os.Stat(d3.linkPin(a.lxc, hooks[0])); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("TCX link pin left next to the tc filters: %v", err)
	}
	for _, p := range []*testPod{a, b} {
		must(t, inNetns(n.ns, func() error { return d3.Detach(p.lxc) }))
		if f := filters(p); len(f) != 0 {
			t.Errorf("filters on %s after Detach: %v", p.lxc, f)
		}
	}
}

// TestIncompatiblePinnedMapReplaced resizes a conntrack map between two
// loads: the pinned map is replaced instead of failing the load.
func TestIncompatiblePinnedMapReplaced(t *testing.T) {
	n := newTestNode(t)
	cfg := n.config()
	d1, err := Load(cfg, nil)
	must(t, err)
	d1.Close()
	cfg.CTGlobalAnyMax *= 2
	d2, err := Load(cfg, nil)
	must(t, err)
	defer d2.Close()
	m, err := ebpf.LoadPinnedMap(MapPinPath(cfg.BPFRoot, MapCTAny4Global), nil)
	must(t, err)
	defer m.Close()
	if got := m.MaxEntries(); got != uint32(cfg.CTGlobalAnyMax) {
		t.Errorf("pinned %s has %d entries, want %d", MapCTAny4Global, got, cfg.CTGlobalAnyMax)
	}
}

// TestKilledLoaderLeavesProgramsAttached kills a loader process with
// SIGKILL, as a crashing agent dies: programs stay attached, connections
// keep flowing, and a new loader adopts links and maps.
func TestKilledLoaderLeavesProgramsAttached(t *testing.T) {
	n := newTestNode(t)
	a, b := n.addPod(2), n.addPod(3)
	// The endpoints, as the endpoints cell writes them, in the pinned map.
	d0, err := Load(n.config(), nil)
	must(t, err)
	must(t, d0.UpsertEndpoint(a.endpoint()))
	must(t, d0.UpsertEndpoint(b.endpoint()))
	must(t, d0.Close())

	child := startLoaderProcess(t, n, a.lxc, b.lxc)
	server := netip.AddrPortFrom(b.ip, 9200)
	serveEcho(b.listenTCP(t, 9200))
	conn, err := a.dial("tcp4", server)
	must(t, err)
	defer conn.Close()
	client := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	if _, err := echoOn(conn, "before the kill"); err != nil {
		t.Fatal(err)
	}

	must(t, child.Process.Kill())
	child.Wait()

	forwarded := n.forwardedDatagrams()
	if _, err := echoOn(conn, "after the kill"); err != nil {
		t.Fatalf("open connection after SIGKILL: %v", err)
	}
	if _, err := tcpExchange(a, server, "new connection, no agent"); err != nil {
		t.Fatalf("new connection after SIGKILL: %v", err)
	}
	if fwd := n.forwardedDatagrams() - forwarded; fwd != 0 {
		t.Errorf("kernel forwarded %d datagrams: programs went with the process", fwd)
	}

	d, err := Load(n.config(), nil)
	must(t, err)
	defer d.Close()
	if got := d.Attached(); len(got) != 2 || got[a.lxc] != AttachTCX || got[b.lxc] != AttachTCX {
		t.Errorf("adopted %v", got)
	}
	if _, ok := findCT(t, d, NewCTKey(client, server, ProtoTCP, TupleOut)); !ok {
		t.Errorf("conntrack entry of the open connection lost; have:\n%s", dumpCT(t, d))
	}
}

func echoOn(c net.Conn, msg string) (string, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, len(msg))
	_, err := io.ReadFull(c, buf)
	return string(buf), err
}

// echoOnAsync is echoOn for messages larger than the socket buffers: it
// writes and reads concurrently.
func echoOnAsync(c net.Conn, msg string) (string, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte(msg))
		werr <- err
	}()
	buf := make([]byte, len(msg))
	n, err := io.ReadFull(c, buf)
	if err == nil {
		err = <-werr
	}
	return string(buf[:n]), err
}
