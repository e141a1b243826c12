package bpf

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestPodToPodTraffic sends real TCP, UDP and ICMP between two pods whose
// veths carry the datapath, and checks delivery, conntrack entries and
// flow events.
func TestPodToPodTraffic(t *testing.T) {
	n := newTestNode(t)
	a, b := n.addPod(2), n.addPod(3)
	d, err := Load(n.config(), nil)
	must(t, err)
	t.Cleanup(func() { d.Close() })
	flows := collectFlows(t, d)
	if mode := n.attach(d, a, b); mode != AttachTCX {
		t.Fatalf("attached with %s, want tcx on this kernel", mode)
	}

	t.Run("TCP", func(t *testing.T) {
		l := b.listenTCP(t, 8080)
		serveEcho(l)
		server := netip.AddrPortFrom(b.ip, 8080)
		forwarded := n.forwardedDatagrams()
		client, err := tcpExchange(a, server, "hello over tcp")
		must(t, err)
		// Delivered by bpf_redirect_peer, not the node's routing.
		if fwd := n.forwardedDatagrams() - forwarded; fwd != 0 {
			t.Errorf("the node's kernel forwarded %d datagrams between the pods", fwd)
		}

		// The client's egress and the server's ingress each have an entry.
		out, ok := findCT(t, d, NewCTKey(client, server, ProtoTCP, TupleOut))
		if !ok {
			t.Fatalf("no OUT entry %s -> %s; have:\n%s", client, server, dumpCT(t, d))
		}
		in, ok := findCT(t, d, NewCTKey(client, server, ProtoTCP, TupleIn))
		if !ok {
			t.Fatalf("no IN entry %s -> %s; have:\n%s", client, server, dumpCT(t, d))
		}
		for _, r := range []CTRecord{out, in} {
			if r.Entry.Packets < 3 || r.Entry.TxFlagsSeen&uint8(TCPSyn) == 0 || r.Entry.RxFlagsSeen&uint8(TCPSyn|TCPAck) != uint8(TCPSyn|TCPAck) {
				t.Errorf("entry does not account the handshake: %s", r)
			}
			if r.Entry.SrcSecId != a.endpoint().Identity {
				t.Errorf("entry source identity %d, want %d: %s", r.Entry.SrcSecId, a.endpoint().Identity, r)
			}
		}
		if int(out.Entry.Ifindex) != a.ifindex || int(in.Entry.Ifindex) != b.ifindex {
			t.Errorf("entry ifindexes %d, %d, want %d, %d", out.Entry.Ifindex, in.Entry.Ifindex, a.ifindex, b.ifindex)
		}
		if !strings.HasPrefix(out.String(), "TCP OUT "+client.String()+" -> "+server.String()+" expires=") {
			t.Errorf("row %q", out)
		}

		syn := flows.wait(t, "SYN from-endpoint", func(f Flow) bool {
			return f.Src == client && f.Dst == server && f.Point == ObsFromEndpoint && f.TCP == TCPSyn
		})
		want := Flow{Src: client, Dst: server, Proto: ProtoTCP, TCP: TCPSyn, IfIndex: uint32(a.ifindex),
			SrcEndpoint: a.id, DstEndpoint: b.id, SrcIdentity: a.endpoint().Identity, DstIdentity: b.endpoint().Identity,
			Verdict: VerdictForwarded, Point: ObsFromEndpoint, Direction: DirectionEgress, CTStatus: CTNew, Reason: ReasonNew}
		syn.Time, syn.Mono, syn.Len = time.Time{}, 0, 0
		if syn != want {
			t.Errorf("SYN event\n got %+v\nwant %+v", syn, want)
		}
		flows.wait(t, "SYN to-endpoint", func(f Flow) bool {
			return f.Src == client && f.Dst == server && f.Point == ObsToEndpoint && f.TCP == TCPSyn &&
				f.IfIndex == uint32(b.ifindex) && f.Direction == DirectionIngress && f.CTStatus == CTNew
		})
		flows.wait(t, "SYN-ACK reply from-endpoint", func(f Flow) bool {
			return f.Src == server && f.Dst == client && f.Point == ObsFromEndpoint && f.TCP == TCPSyn|TCPAck &&
				f.CTStatus == CTReply && f.Reason == ReasonFlags
		})
		flows.wait(t, "FIN", func(f Flow) bool {
			return f.Src == client && f.Dst == server && f.TCP&TCPFin != 0 && f.Reason == ReasonClose
		})
	})

	// Large segments (GSO from the veth) survive the rewrite and redirect.
	t.Run("Bulk", func(t *testing.T) {
		serveEcho(b.listenTCP(t, 8083))
		c, err := a.dial("tcp4", netip.AddrPortFrom(b.ip, 8083))
		must(t, err)
		defer c.Close()
		msg := strings.Repeat("0123456789abcdef", 1<<18) // 4 MiB
		got, err := echoOnAsync(c, msg)
		if err != nil || got != msg {
			t.Fatalf("bulk echo: %d of %d bytes back, %v", len(got), len(msg), err)
		}
	})

	t.Run("RST", func(t *testing.T) {
		l := b.listenTCP(t, 8082)
		serveEcho(l)
		server := netip.AddrPortFrom(b.ip, 8082)
		c, err := a.dial("tcp4", server)
		must(t, err)
		client := c.LocalAddr().(*net.TCPAddr).AddrPort()
		if _, err := echoOn(c, "then abort"); err != nil {
			t.Fatal(err)
		}
		c.(*net.TCPConn).SetLinger(0) // close with RST
		c.Close()
		flows.wait(t, "RST", func(f Flow) bool {
			return f.Src == client && f.Dst == server && f.TCP&TCPRst != 0 && f.Reason == ReasonClose && f.Point == ObsFromEndpoint
		})
		r, ok := findCT(t, d, NewCTKey(client, server, ProtoTCP, TupleOut))
		if !ok || r.Entry.Flags&(CTRxClosing|CTTxClosing) != CTRxClosing|CTTxClosing || r.Remaining > 10 {
			t.Errorf("entry after RST: %s, want closing both ways with at most 10s left", r)
		}
	})

	t.Run("ExpiredEntryReplaced", func(t *testing.T) {
		serveUDPEcho(b.listenPacket(t, "udp4", netip.AddrPortFrom(b.ip, 5354).String()))
		client, server := netip.AddrPortFrom(a.ip, 33333), netip.AddrPortFrom(b.ip, 5354)
		now, err := monoSeconds()
		must(t, err)
		key := NewCTKey(client, server, ProtoUDP, TupleOut)
		stale := CTEntry{Lifetime: uint32(now - 1), Packets: 7}
		must(t, d.objs.CiliumCtAny4Global.Put(&key, &stale))

		var c net.Conn
		must(t, inNetns(a.ns, func() (err error) {
			c, err = net.DialUDP("udp4", net.UDPAddrFromAddrPort(client), net.UDPAddrFromAddrPort(server))
			return err
		}))
		defer c.Close()
		if _, err := echoOn(c, "after expiry"); err != nil {
			t.Fatal(err)
		}
		flows.wait(t, "expired", func(f Flow) bool {
			return f.Src == client && f.Dst == server && f.Reason == ReasonExpired && f.CTStatus == CTNew
		})
		if r, ok := findCT(t, d, key); !ok || r.Entry.Packets != 2 || r.Remaining < 50 {
			t.Errorf("entry after expiry: %s, want a fresh one with the datagram and its reply", r)
		}
	})

	t.Run("UDP", func(t *testing.T) {
		serveUDPEcho(b.listenPacket(t, "udp4", netip.AddrPortFrom(b.ip, 5353).String()))
		server := netip.AddrPortFrom(b.ip, 5353)
		client, err := udpExchange(a, server, "hello over udp")
		must(t, err)
		if _, ok := findCT(t, d, NewCTKey(client, server, ProtoUDP, TupleOut)); !ok {
			t.Fatalf("no UDP OUT entry; have:\n%s", dumpCT(t, d))
		}
		if r, ok := findCT(t, d, NewCTKey(client, server, ProtoUDP, TupleIn)); !ok || r.Entry.Packets != 2 {
			t.Fatalf("no UDP IN entry with the datagram and its reply (found %v: %s); have:\n%s", ok, r, dumpCT(t, d))
		}
		flows.wait(t, "UDP to-endpoint", func(f Flow) bool {
			return f.Src == client && f.Dst == server && f.Proto == ProtoUDP && f.Point == ObsToEndpoint && f.Verdict == VerdictForwarded
		})
	})

	t.Run("ICMP", func(t *testing.T) {
		const id = 0x4242
		must(t, ping(t, a, b.ip, id))
		req := NewCTKey(netip.AddrPortFrom(a.ip, id), netip.AddrPortFrom(b.ip, 0), ProtoICMP, TupleOut)
		r, ok := findCT(t, d, req)
		if !ok || r.Entry.Packets != 2 {
			t.Fatalf("no ICMP entry for the echo and its reply (found %v: %s); have:\n%s", ok, r, dumpCT(t, d))
		}
		flows.wait(t, "echo request", func(f Flow) bool {
			return f.Proto == ProtoICMP && f.Src.Addr() == a.ip && f.Dst.Addr() == b.ip && f.ICMP.Type == 8 && f.Point == ObsFromEndpoint
		})
	})

	t.Run("SpoofedSourceDropped", func(t *testing.T) {
		// Pod a claims pod b's address: dropped at a's veth, reported.
		spoofed, dst := netip.AddrPortFrom(b.ip, 4000), netip.AddrPortFrom(gatewayIPAddr(), 4001)
		must(t, a.spoofUDP(spoofed, dst))
		f := flows.wait(t, "drop", func(f Flow) bool { return f.Verdict == VerdictDropped && f.Src == spoofed })
		if f.DropReason != DropInvalidSourceIP || f.IfIndex != uint32(a.ifindex) || f.Reason != ReasonDrop {
			t.Errorf("drop event %+v", f)
		}
		if !strings.Contains(f.String(), "DROPPED (Invalid source ip)") {
			t.Errorf("drop line %q", f)
		}
	})

	// to-container sees what the kernel routes to a pod: from the node.
	t.Run("NodeToPod", func(t *testing.T) {
		l := b.listenTCP(t, 8081)
		serveEcho(l)
		var client netip.AddrPort
		must(t, inNetns(n.ns, func() error {
			c, err := tcpExchangeFrom(netip.AddrPortFrom(b.ip, 8081))
			client = c
			return err
		}))
		if _, ok := findCT(t, d, NewCTKey(client, netip.AddrPortFrom(b.ip, 8081), ProtoTCP, TupleIn)); !ok {
			t.Fatalf("no IN entry for node -> pod; have:\n%s", dumpCT(t, d))
		}
		flows.wait(t, "SYN-ACK of the pod as reply", func(f Flow) bool {
			return f.Src.Port() == 8081 && f.Point == ObsFromEndpoint && f.CTStatus == CTReply
		})
	})
}

func gatewayIPAddr() netip.Addr { return netip.MustParseAddr(gatewayIP) }
