package bpf

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testLB writes services straight into a datapath's load-balancer maps,
// as the services cell's reconciler would.
type testLB struct {
	tb testing.TB
	d  *Datapath
}

type testBackend struct {
	id   uint32
	addr netip.AddrPort
}

// set installs frontend fe (rev NAT id) with the given backends in slots
// 1..n, removing slots beyond n.
func (l testLB) set(fe netip.AddrPort, proto uint8, id uint16, flags uint8, affinity uint32, bes ...testBackend) {
	l.tb.Helper()
	o := l.d.objs
	for _, b := range bes {
		v := NewLB4Backend(b.addr, proto, BackendStateActive)
		must(l.tb, o.CiliumLb4BackendsV3.Put(b.id, &v))
	}
	for i, b := range bes {
		k := NewLB4Key(fe, proto, uint16(i+1))
		must(l.tb, o.CiliumLb4ServicesV2.Put(&k, &LB4Service{BackendId: b.id, RevNatIndex: id}))
	}
	k := NewLB4Key(fe, proto, 0)
	must(l.tb, o.CiliumLb4ServicesV2.Put(&k, &LB4Service{BackendId: affinity, Count: uint16(len(bes)), RevNatIndex: id, Flags: flags}))
	for s := len(bes) + 1; s < 16; s++ {
		k := NewLB4Key(fe, proto, uint16(s))
		o.CiliumLb4ServicesV2.Delete(&k)
	}
	nat := NewLB4ReverseNAT(fe)
	must(l.tb, o.CiliumLb4ReverseNat.Put(id, &nat))
	var mg LB4Maglev
	for i := range mg.BackendIds {
		if len(bes) > 0 {
			mg.BackendIds[i] = bes[i%len(bes)].id
		}
	}
	must(l.tb, o.CiliumLb4Maglev.Put(id, &mg))
}

// serveName answers every TCP connection of l with "<name> <peer>\n".
func serveName(l net.Listener, name string) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s %s\n", name, c.RemoteAddr())
			c.Close()
		}
	}()
}

// askName connects from p to dst and returns the server's name, the peer
// address it saw, and the address the client saw as remote.
func askName(p *testPod, dst netip.AddrPort) (name, peer, remote string, err error) {
	c, err := p.dial("tcp4", dst)
	if err != nil {
		return "", "", "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", "", "", fmt.Errorf("read from %s: %w", dst, err)
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		return "", "", "", fmt.Errorf("answer %q", line)
	}
	return f[0], f[1], c.RemoteAddr().String(), nil
}

// TestServiceTranslation sends real connections from a pod to a ClusterIP
// whose backends are pods of the same node: DNAT, reverse NAT, conntrack
// stickiness, reject without backends, hairpin, UDP and affinity.
func TestServiceTranslation(t *testing.T) {
	n := newTestNode(t)
	a, b, c := n.addPod(2), n.addPod(3), n.addPod(4)
	d, err := Load(n.config(), nil)
	must(t, err)
	t.Cleanup(func() { d.Close() })
	flows := collectFlows(t, d)
	n.attach(d, a, b, c)
	lb := testLB{t, d}
	vip := netip.AddrPortFrom(netip.MustParseAddr("10.96.0.10"), 80)
	serveName(b.listenTCP(t, 8080), "b")
	serveName(c.listenTCP(t, 8080), "c")
	bb := testBackend{1, netip.AddrPortFrom(b.ip, 8080)}
	cb := testBackend{2, netip.AddrPortFrom(c.ip, 8080)}
	lb.set(vip, ProtoTCP, 7, 0, 0, bb, cb)

	t.Run("ClusterIP", func(t *testing.T) {
		seen := map[string]int{}
		for i := 0; i < 40 && len(seen) < 2; i++ {
			name, peer, remote, err := askName(a, vip)
			if err != nil {
				t.Fatalf("connection %d to %s: %v", i, vip, err)
			}
			if remote != vip.String() {
				t.Fatalf("client saw its peer as %s, want the service address %s", remote, vip)
			}
			if !strings.HasPrefix(peer, a.ip.String()+":") {
				t.Fatalf("backend saw the client as %s, want %s (no SNAT)", peer, a.ip)
			}
			seen[name]++
		}
		if len(seen) != 2 {
			t.Fatalf("40 connections all went to %v, want both backends used", seen)
		}
	})

	t.Run("ConnectionStaysOnItsBackend", func(t *testing.T) {
		serveEcho(b.listenTCP(t, 9090))
		serveEcho(c.listenTCP(t, 9090))
		fe := netip.AddrPortFrom(vip.Addr(), 90)
		lb.set(fe, ProtoTCP, 8, 0, 0, testBackend{3, netip.AddrPortFrom(b.ip, 9090)})
		conn, err := a.dial("tcp4", fe)
		must(t, err)
		defer conn.Close()
		if _, err := echoOn(conn, "before"); err != nil {
			t.Fatal(err)
		}
		// The service now points elsewhere; the connection does not move.
		lb.set(fe, ProtoTCP, 8, 0, 0, testBackend{4, netip.AddrPortFrom(c.ip, 9090)}, testBackend{3, netip.AddrPortFrom(b.ip, 9090)})
		for i := range 20 {
			if _, err := echoOn(conn, fmt.Sprintf("after %d", i)); err != nil {
				t.Fatalf("established connection broke when backends changed: %v", err)
			}
		}
	})

	t.Run("NoBackendsRejected", func(t *testing.T) {
		fe := netip.AddrPortFrom(vip.Addr(), 81)
		lb.set(fe, ProtoTCP, 9, 0, 0)
		start := time.Now()
		_, err := a.dial("tcp4", fe)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("connect to a service without backends: %v, want connection refused", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("refusal took %s", time.Since(start))
		}
		f := flows.wait(t, "no-service drop", func(f Flow) bool {
			return f.Verdict == VerdictDropped && f.Dst == fe
		})
		if f.DropReason != DropNoService {
			t.Errorf("drop reason %s, want %s", f.DropReason, DropNoService)
		}
	})

	t.Run("Hairpin", func(t *testing.T) {
		fe := netip.AddrPortFrom(vip.Addr(), 82)
		lb.set(fe, ProtoTCP, 10, 0, 0, testBackend{5, netip.AddrPortFrom(b.ip, 8080)})
		name, peer, remote, err := askName(b, fe)
		if err != nil {
			t.Fatalf("pod to itself through its service: %v", err)
		}
		if name != "b" || remote != fe.String() || !strings.HasPrefix(peer, LBLoopback.String()+":") {
			t.Fatalf("hairpin: served by %s, client saw %s, server saw %s; want b, %s, %s", name, remote, peer, fe, LBLoopback)
		}
	})

	t.Run("UDP", func(t *testing.T) {
		serveUDPEcho(b.listenPacket(t, "udp4", netip.AddrPortFrom(b.ip, 5353).String()))
		fe := netip.AddrPortFrom(vip.Addr(), 53)
		lb.set(fe, ProtoUDP, 11, 0, 0, testBackend{6, netip.AddrPortFrom(b.ip, 5353)})
		conn, err := a.dial("udp4", fe)
		must(t, err)
		defer conn.Close()
		for i := range 3 {
			if _, err := echoOn(conn, fmt.Sprintf("datagram %d", i)); err != nil {
				t.Fatalf("UDP through the service: %v", err)
			}
		}
	})

	t.Run("SessionAffinity", func(t *testing.T) {
		fe := netip.AddrPortFrom(vip.Addr(), 83)
		lb.set(fe, ProtoTCP, 12, SvcFlagAffinity, 60, bb, cb)
		first := ""
		for i := range 20 {
			name, _, _, err := askName(a, fe)
			must(t, err)
			if first == "" {
				first = name
			} else if name != first {
				t.Fatalf("connection %d went to %s, earlier ones to %s: affinity ignored", i, name, first)
			}
		}
	})
}

// TestServiceMaglev checks that with bpf-lb-algorithm=maglev connections
// follow the Maglev table.
func TestServiceMaglev(t *testing.T) {
	n := newTestNode(t)
	a, b, c := n.addPod(2), n.addPod(3), n.addPod(4)
	cfg := n.config()
	cfg.LBAlgorithm = LBAlgorithmMaglev
	d, err := Load(cfg, nil)
	must(t, err)
	t.Cleanup(func() { d.Close() })
	n.attach(d, a, b, c)
	serveName(b.listenTCP(t, 8080), "b")
	serveName(c.listenTCP(t, 8080), "c")
	vip := netip.AddrPortFrom(netip.MustParseAddr("10.96.0.11"), 80)
	lb := testLB{t, d}
	lb.set(vip, ProtoTCP, 3, 0, 0, testBackend{1, netip.AddrPortFrom(b.ip, 8080)}, testBackend{2, netip.AddrPortFrom(c.ip, 8080)})
	seen := map[string]bool{}
	for i := 0; i < 40 && len(seen) < 2; i++ {
		name, _, _, err := askName(a, vip)
		must(t, err)
		seen[name] = true
	}
	if len(seen) != 2 {
		t.Fatalf("maglev sent 40 connections to %v only", seen)
	}
	// A table naming only c sends everything to c.
	var mg LB4Maglev
	for i := range mg.BackendIds {
		mg.BackendIds[i] = 2
	}
	must(t, d.objs.CiliumLb4Maglev.Put(uint16(3), &mg))
	for range 10 {
		name, _, _, err := askName(a, vip)
		must(t, err)
		if name != "c" {
			t.Fatalf("connection went to %s, the Maglev table says c", name)
		}
	}
}

// TestServiceAffinityTimeout checks that a ClientIP affinity entry is
// followed while it is younger than the service's timeout and ignored
// after. Maglev makes the choice without affinity deterministic.
func TestServiceAffinityTimeout(t *testing.T) {
	n := newTestNode(t)
	a, b, c := n.addPod(2), n.addPod(3), n.addPod(4)
	cfg := n.config()
	cfg.LBAlgorithm = LBAlgorithmMaglev
	d, err := Load(cfg, nil)
	must(t, err)
	t.Cleanup(func() { d.Close() })
	n.attach(d, a, b, c)
	serveName(b.listenTCP(t, 8080), "b")
	serveName(c.listenTCP(t, 8080), "c")
	vip := netip.AddrPortFrom(netip.MustParseAddr("10.96.0.12"), 80)
	lb := testLB{t, d}
	const timeout = 30
	lb.set(vip, ProtoTCP, 5, SvcFlagAffinity, timeout, testBackend{1, netip.AddrPortFrom(b.ip, 8080)}, testBackend{2, netip.AddrPortFrom(c.ip, 8080)})
	// Maglev sends everything to b.
	var mg LB4Maglev
	for i := range mg.BackendIds {
		mg.BackendIds[i] = 1
	}
	must(t, d.objs.CiliumLb4Maglev.Put(uint16(5), &mg))

	now, err := monoSeconds()
	must(t, err)
	key := LB4AffinityKey{ClientIp: be32(a.ip), RevNatId: 5}
	for _, c := range []struct {
		age  int64
		want string
	}{
		{timeout - 5, "c"}, // fresh: affinity wins over Maglev
		{timeout + 5, "b"}, // expired: Maglev chooses
	} {
		must(t, d.objs.CiliumLb4Affinity.Put(&key, &LBAffinityVal{LastUsed: uint64(now - c.age), BackendId: 2}))
		name, _, _, err := askName(a, vip)
		must(t, err)
		if name != c.want {
			t.Errorf("affinity entry %ds old (timeout %ds): served by %s, want %s", c.age, timeout, name, c.want)
		}
		var v LBAffinityVal
		must(t, d.objs.CiliumLb4Affinity.Lookup(&key, &v))
		if int64(v.LastUsed) < now {
			t.Errorf("affinity entry not refreshed by the connection: last used %d, now %d", v.LastUsed, now)
		}
	}
}
