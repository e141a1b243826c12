package bpf

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// BenchmarkProgram measures the run time of each program on one packet of
// an established TCP connection with BPF_PROG_TEST_RUN, with the default
// aggregation (medium) and with an event for every packet (none).
//
// ns/pkt is the kernel's measurement of the program alone. The kernel runs
// the program testRunChunk times per syscall on the same packet, so the
// test run's fixed cost (about 90 ns here) is spread thin; chunks are
// short enough that the TTL decrements of local delivery (from 255) never
// reach the TTL-expired path.
func BenchmarkProgram(b *testing.B) {
	podA := netip.MustParseAddr("10.1.0.2")
	podB := netip.MustParseAddr("10.1.0.3")
	remote := netip.MustParseAddr("10.2.0.9")
	for _, agg := range []string{"medium", "none"} {
		cfg := DefaultConfig
		cfg.BPFRoot = "/sys/fs/bpf/" + randomPrefix(b)
		cfg.MonitorAggregation = agg
		cfg.CTGlobalTCPMax, cfg.CTGlobalAnyMax = 1<<16, 1<<16
		b.Cleanup(func() { RemoveAll(cfg.BPFRoot) })
		d, err := Load(cfg, nil)
		must(b, err)
		b.Cleanup(func() { d.Close() })
		drainFlows(b, d)
		mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
		// BPF_PROG_TEST_RUN runs the program on loopback (ifindex 1),
		// which stands for pod A's veth.
		must(b, d.UpsertEndpoint(Endpoint{IP: podA, IfIndex: 1, ID: 1, Identity: 1001, MAC: mac, NodeMAC: mac}))
		must(b, d.UpsertEndpoint(Endpoint{IP: podB, IfIndex: 1000, ID: 2, Identity: 1002, MAC: mac, NodeMAC: mac}))

		for _, c := range []struct {
			name string
			prog *ebpf.Program
			pkt  []byte
			want uint32
		}{
			{"from-container/to-endpoint", d.FromContainer(), tcpPacket(podA, podB, 40000, 80), tcActRedirect},
			{"from-container/to-stack", d.FromContainer(), tcpPacket(podA, remote, 40000, 80), tcActOK},
			{"to-container", d.ToContainer(), tcpPacket(remote, podA, 80, 40000), tcActOK},
		} {
			b.Run(fmt.Sprintf("%s/aggregation=%s", c.name, agg), func(b *testing.B) {
				// The first run creates the conntrack entries.
				ret, _, err := c.prog.Benchmark(c.pkt, 1, nil)
				must(b, err)
				if ret != c.want {
					b.Fatalf("program returned %d, want %d", ret, c.want)
				}
				var total time.Duration
				b.ResetTimer()
				for done := 0; done < b.N; done += testRunChunk {
					k := min(testRunChunk, b.N-done)
					_, dur, err := c.prog.Benchmark(c.pkt, k, nil)
					if err != nil {
						b.Fatal(err)
					}
					total += dur * time.Duration(k)
				}
				b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/pkt")
			})
		}
	}
}

const testRunChunk = 200

// tcpPacket builds an Ethernet + IPv4 + TCP ACK segment.
func tcpPacket(src, dst netip.Addr, sport, dport uint16) []byte {
	pkt := make([]byte, 14+20+20)
	binary.BigEndian.PutUint16(pkt[12:], unix.ETH_P_IP)
	ip := pkt[14:]
	ip[0], ip[8], ip[9] = 0x45, 255, unix.IPPROTO_TCP
	binary.BigEndian.PutUint16(ip[2:], 40)
	s, d := src.As4(), dst.As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[10:], icmpChecksum(ip[:20]))
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	tcp[12], tcp[13] = 5<<4, byte(TCPAck)
	return pkt
}

// drainFlows reads d's flow events until the benchmark ends, so that the
// programs pay for writing events and not for finding the buffer full.
func drainFlows(tb testing.TB, d *Datapath) {
	fr, err := d.Flows()
	must(tb, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range fr.All() {
		}
	}()
	tb.Cleanup(func() {
		fr.Close()
		<-done
	})
}

// nsWorker runs functions on one OS thread that stays in a namespace, for
// loops that create sockets (connect rate) without a setns per socket.
type nsWorker struct{ fns chan func() }

func newNSWorker(tb testing.TB, ns netns.NsHandle) *nsWorker {
	w := &nsWorker{fns: make(chan func())}
	ready := make(chan error)
	go func() {
		// Never unlocked: the thread ends with the goroutine instead of
		// going back to the scheduler in the pod's namespace.
		runtime.LockOSThread()
		ready <- netns.Set(ns)
		for f := range w.fns {
			f()
		}
	}()
	must(tb, <-ready)
	tb.Cleanup(func() { close(w.fns) })
	return w
}

func (w *nsWorker) run(f func()) {
	done := make(chan struct{})
	w.fns <- func() { f(); close(done) }
	<-done
}

// podPair is a client pod and a server pod with a 1-byte echo server.
type podPair struct {
	name           string
	client, server *testPod
	addr           netip.AddrPort
	worker         *nsWorker
	conn           net.Conn  // for request/response
	rounds         []float64 // rate of each round
}

func newPodPair(b *testing.B, n *testNode, name string, host int) *podPair {
	p := &podPair{name: name, client: n.addPod(host), server: n.addPod(host + 1)}
	p.addr = netip.AddrPortFrom(p.server.ip, 8000)
	serveEcho(p.server.listenTCP(b, 8000))
	p.worker = newNSWorker(b, p.client.ns)
	return p
}

func (p *podPair) rr(b *testing.B, count int) {
	if p.conn == nil {
		var err error
		p.worker.run(func() { p.conn, err = net.Dial("tcp4", p.addr.String()) })
		must(b, err)
		p.conn.(*net.TCPConn).SetNoDelay(true)
		b.Cleanup(func() { p.conn.Close() })
	}
	buf := []byte{'x'}
	start := time.Now()
	for range count {
		if _, err := p.conn.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(p.conn, buf); err != nil {
			b.Fatal(err)
		}
	}
	p.record(time.Since(start), count)
}

func (p *podPair) record(d time.Duration, count int) {
	p.rounds = append(p.rounds, float64(count)/d.Seconds())
}

// crr is netperf's TCP_CRR: connect, one request and response, close
// (with RST, so no TIME_WAIT piles up).
func (p *podPair) crr(b *testing.B, count int) {
	var err error
	start := time.Now()
	p.worker.run(func() {
		buf := []byte{'x'}
		for range count {
			var c net.Conn
			if c, err = net.Dial("tcp4", p.addr.String()); err != nil {
				return
			}
			if _, err = c.Write(buf); err == nil {
				_, err = io.ReadFull(c, buf)
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			if err != nil {
				return
			}
		}
	})
	must(b, err)
	p.record(time.Since(start), count)
}

// podToPodBench sets up three pod pairs on one node: plain veths routed by
// the kernel, the datapath with default aggregation, and the datapath
// with an event per packet; then runs op on each in turn, in rounds of
// chunk operations, for b.N operations each, and reports the median round
// rate of each and the median of the per-round ratios to plain.
func podToPodBench(b *testing.B, unit string, chunk int, op func(*podPair, *testing.B, int)) *podPair {
	n := newTestNode(b)
	plain := newPodPair(b, n, "plain", 2)
	withBPF := newPodPair(b, n, "bpf", 4)
	allEvents := newPodPair(b, n, "bpf-events-all", 6)

	for _, c := range []struct {
		pair *podPair
		agg  string
	}{{withBPF, "medium"}, {allEvents, "none"}} {
		cfg := n.config()
		cfg.BPFRoot += "-" + c.agg
		cfg.MonitorAggregation = c.agg
		b.Cleanup(func() { RemoveAll(cfg.BPFRoot) })
		d, err := Load(cfg, nil)
		must(b, err)
		b.Cleanup(func() { d.Close() })
		drainFlows(b, d)
		n.attach(d, c.pair.client, c.pair.server)
		if c.pair == withBPF {
			benchDatapath = d
		}
	}
	pairs := []*podPair{plain, withBPF, allEvents}
	for _, p := range pairs {
		op(p, b, 10) // warm up: connections, conntrack, neighbours
		p.rounds = nil
	}

	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		k := min(chunk, b.N-done)
		for _, p := range pairs {
			op(p, b, k)
		}
	}
	b.StopTimer()
	for _, p := range pairs {
		b.ReportMetric(median(p.rounds), p.name+"-"+unit+"/s")
	}
	b.ReportMetric(medianRatio(withBPF.rounds, plain.rounds), "bpf/plain")
	b.ReportMetric(medianRatio(allEvents.rounds, plain.rounds), "bpf-events-all/plain")
	return withBPF
}

// medianRatio is the median over rounds of a's rate over b's. The VM is
// shared and noisy; rounds are short and interleaved so that both sides
// of a ratio see the same noise, and the median drops the rounds a burst
// of other work hit.
func medianRatio(a, b []float64) float64 {
	r := make([]float64, len(a))
	for i := range a {
		r[i] = a[i] / b[i]
	}
	return median(r)
}

func median(v []float64) float64 {
	r := slices.Clone(v)
	slices.Sort(r)
	if len(r) == 0 {
		return 0
	}
	if len(r)%2 == 0 {
		return (r[len(r)/2-1] + r[len(r)/2]) / 2
	}
	return r[len(r)/2]
}

// benchDatapath is the datapath of the "bpf" pair of the running
// podToPodBench.
var benchDatapath *Datapath

// BenchmarkPodToPodRR is netperf's TCP_RR between two pods on one node:
// 1-byte request and response on one connection, b.N transactions for
// each of plain veths, the datapath, and the datapath reporting every
// packet. It also reports the datapath's run time per packet on this
// traffic from the kernel's BPF run-time statistics.
func BenchmarkPodToPodRR(b *testing.B) {
	withBPF := podToPodBench(b, "rr", 200, (*podPair).rr)

	stats, err := ebpf.EnableStats(unix.BPF_STATS_RUN_TIME)
	must(b, err)
	defer stats.Close()
	prog := benchDatapath.FromContainer()
	before, err := prog.Stats()
	must(b, err)
	withBPF.rr(b, 2000)
	after, err := prog.Stats()
	must(b, err)
	if runs := after.RunCount - before.RunCount; runs > 0 {
		b.ReportMetric(float64((after.Runtime-before.Runtime).Nanoseconds())/float64(runs), "from-container-ns/pkt")
	}
}

// BenchmarkPodToPodCRR is netperf's TCP_CRR between two pods on one node:
// connect, 1-byte request and response, close, b.N times for each of
// plain veths, the datapath, and the datapath reporting every packet.
func BenchmarkPodToPodCRR(b *testing.B) {
	podToPodBench(b, "crr", 20, (*podPair).crr)
}

// tc verdicts (linux/pkt_cls.h).
const (
	tcActOK       = 0
	tcActRedirect = 7
)
