package bpf

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// TestFlowAggregation sends the same 200 UDP round trips through datapaths
// loaded with different monitor-aggregation settings and counts the flow
// events: one per packet without aggregation, a handful with it, about
// 1 in N with sampling.
func TestFlowAggregation(t *testing.T) {
	const exchanges = 200
	run := func(t *testing.T, configure func(*Config)) int {
		n := newTestNode(t)
		a, b := n.addPod(2), n.addPod(3)
		cfg := n.config()
		configure(&cfg)
		d, err := Load(cfg, nil)
		must(t, err)
		t.Cleanup(func() { d.Close() })
		flows := collectFlows(t, d)
		n.attach(d, a, b)

		server := netip.AddrPortFrom(b.ip, 7000)
		serveUDPEcho(b.listenPacket(t, "udp4", server.String()))
		c, err := a.dial("udp4", server)
		must(t, err)
		defer c.Close()
		buf := make([]byte, 64)
		for i := range exchanges {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			msg := fmt.Sprintf("datagram %d", i)
			if _, err := c.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			if n, err := c.Read(buf); err != nil || string(buf[:n]) != msg {
				t.Fatalf("exchange %d: %q, %v", i, buf[:n], err)
			}
		}
		// Every packet of the flow is reported at least once it started.
		flows.wait(t, "connection start", func(f Flow) bool {
			return f.Dst == server && f.Point == ObsFromEndpoint && f.CTStatus == CTNew
		})
		got := flows.countSettled(func(f Flow) bool { return f.Proto == ProtoUDP && (f.Dst == server || f.Src == server) }, 200*time.Millisecond)
		t.Logf("%d events for %d round trips", got, exchanges)
		return got
	}

	var none int
	t.Run("none", func(t *testing.T) {
		none = run(t, func(c *Config) { c.MonitorAggregation = "none" })
		// Four observations per round trip: a's egress, b's ingress,
		// b's egress, a's ingress.
		if none != 4*exchanges {
			t.Errorf("%d events, want %d", none, 4*exchanges)
		}
	})
	t.Run("medium", func(t *testing.T) {
		got := run(t, func(c *Config) { c.MonitorAggregation = "medium" })
		// Start in both entries, the first reply in both, and at
		// most one periodic report per entry and direction if the run
		// crosses an interval.
		if got < 4 || got > 8 {
			t.Errorf("%d events, want 4 to 8 (without aggregation: %d)", got, none)
		}
	})
	t.Run("maximum+sample", func(t *testing.T) {
		got := run(t, func(c *Config) {
			c.MonitorAggregation = "maximum"
			c.EventsSampleRate = 10
		})
		// 2 starts plus a binomial(798, 1/10) sample: mean 82, sd 8.5.
		if got < 30 || got > 200 || got >= none/2 {
			t.Errorf("%d events, want about %d (1 in 10 of %d)", got, 2+4*exchanges/10, 4*exchanges)
		}
	})
}

// TestFlowsLostWhenFull fills a one-page ring buffer with nobody reading:
// the programs count what they could not write, and traffic is unaffected.
func TestFlowsLostWhenFull(t *testing.T) {
	n := newTestNode(t)
	a, b := n.addPod(2), n.addPod(3)
	cfg := n.config()
	cfg.EventsRingBufferSize = 4096 // 64 events of 64 bytes with header
	cfg.MonitorAggregation = "none"
	d, err := Load(cfg, nil)
	must(t, err)
	defer d.Close()
	n.attach(d, a, b)

	server := netip.AddrPortFrom(b.ip, 7001)
	serveUDPEcho(b.listenPacket(t, "udp4", server.String()))
	const exchanges = 50
	for i := range exchanges {
		if _, err := udpExchange(a, server, fmt.Sprint("datagram ", i)); err != nil {
			t.Fatalf("exchange %d with a full ring buffer: %v", i, err)
		}
	}
	fr, err := d.Flows()
	must(t, err)
	defer fr.Close()
	lost, err := fr.Lost()
	must(t, err)
	// 4 events per exchange, at most 64 fit.
	if lost < 4*exchanges-64 {
		t.Errorf("%d events counted lost, want at least %d", lost, 4*exchanges-64)
	}
	t.Logf("%d of %d events lost", lost, 4*exchanges)
}
