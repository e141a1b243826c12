package bpf

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// BenchmarkServiceConnection measures the cost of one TCP connection from
// a pod to a ClusterIP (connect, a line from the server, close) with 1, 1k
// and 10k services installed, through hivenet's datapath and through a
// kube-proxy-style iptables rule set (nat PREROUTING -> KUBE-SERVICES ->
// KUBE-SVC-* -> KUBE-SEP-* DNAT, loaded with iptables-restore) in an
// identical node namespace without BPF. The service used is the last one
// installed, so iptables walks the whole KUBE-SERVICES chain as it would
// for an unlucky service.
func BenchmarkServiceConnection(b *testing.B) {
	for _, mode := range []string{"hivenet", "iptables"} {
		for _, n := range []int{1, 1000, 10000} {
			b.Run(fmt.Sprintf("%s/services=%d", mode, n), func(b *testing.B) {
				node := newTestNode(b)
				a, s := node.addPod(2), node.addPod(3)
				serveName(s.listenTCP(b, 8080), "s")
				backend := netip.AddrPortFrom(s.ip, 8080)
				vip := benchVIP(n - 1)
				if mode == "hivenet" {
					d, err := Load(node.config(), nil)
					must(b, err)
					b.Cleanup(func() { d.Close() })
					node.attach(d, a, s)
					lb := testLB{b, d}
					for i := range n {
						lb.set(benchVIP(i), ProtoTCP, uint16(i+1), 0, 0, testBackend{uint32(i + 1), backend})
					}
				} else {
					loadKubeProxyRules(b, node.prefix+"-node", n, backend)
				}
				// Warm up: conntrack, caches, the server's accept loop.
				for range 200 {
					if _, _, _, err := askName(a, vip); err != nil {
						b.Fatalf("connection through %s: %v", mode, err)
					}
				}
				// One thread in the pod's namespace makes every
				// connection, so entering the namespace is not measured.
				b.ResetTimer()
				must(b, inNetns(a.ns, func() error {
					buf := make([]byte, 64)
					for range b.N {
						c, err := net.Dial("tcp4", vip.String())
						if err != nil {
							return err
						}
						if _, err := c.Read(buf); err != nil {
							c.Close()
							return err
						}
						c.Close()
					}
					return nil
				}))
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/conn")
			})
		}
	}
}

// benchVIP is the address of service i: 10.96.x.y:80.
func benchVIP(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)}), 80)
}

// loadKubeProxyRules loads kube-proxy's iptables layout for n ClusterIP
// services, each with one endpoint (backend), into namespace ns.
func loadKubeProxyRules(tb testing.TB, ns string, n int, backend netip.AddrPort) {
	var w strings.Builder
	bw := bufio.NewWriter(&w)
	fmt.Fprintln(bw, "*nat")
	fmt.Fprintln(bw, ":PREROUTING ACCEPT [0:0]")
	fmt.Fprintln(bw, ":OUTPUT ACCEPT [0:0]")
	fmt.Fprintln(bw, ":KUBE-SERVICES - [0:0]")
	for i := range n {
		fmt.Fprintf(bw, ":KUBE-SVC-%06d - [0:0]\n:KUBE-SEP-%06d - [0:0]\n", i, i)
	}
	fmt.Fprintln(bw, "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES")
	fmt.Fprintln(bw, "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES")
	for i := range n {
		vip := benchVIP(i)
		fmt.Fprintf(bw, "-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment \"default/svc-%d cluster IP\" -m tcp --dport %d -j KUBE-SVC-%06d\n", vip.Addr(), i, vip.Port(), i)
		fmt.Fprintf(bw, "-A KUBE-SVC-%06d -m comment --comment \"default/svc-%d -> %s\" -m statistic --mode random --probability 1.0000000000 -j KUBE-SEP-%06d\n", i, i, backend, i)
		fmt.Fprintf(bw, "-A KUBE-SEP-%06d -p tcp -m comment --comment \"default/svc-%d\" -m tcp -j DNAT --to-destination %s\n", i, i, backend)
	}
	fmt.Fprintln(bw, "COMMIT")
	bw.Flush()
	cmd := exec.Command("ip", "netns", "exec", ns, "iptables-restore")
	cmd.Stdin = strings.NewReader(w.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("iptables-restore of %d services: %v\n%s", n, err, out)
	}
}

// BenchmarkServiceLookup runs from-container with BPF_PROG_TEST_RUN on a
// packet of an established connection to a ClusterIP, with 1, 1k and 10k
// services installed: the datapath's own cost of the translation, which
// must not depend on the number of services. Each syscall runs the program
// once (a repeat would see the packet already translated), so ns/pkt
// includes the syscall's fixed cost.
func BenchmarkServiceLookup(b *testing.B) {
	podA := netip.MustParseAddr("10.1.0.2")
	podB := netip.MustParseAddr("10.1.0.3")
	for _, n := range []int{1, 1000, 10000} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			cfg := DefaultConfig
			cfg.BPFRoot = "/sys/fs/bpf/" + randomPrefix(b)
			cfg.CTGlobalTCPMax, cfg.CTGlobalAnyMax = 1<<16, 1<<16
			b.Cleanup(func() { RemoveAll(cfg.BPFRoot) })
			d, err := Load(cfg, nil)
			must(b, err)
			b.Cleanup(func() { d.Close() })
			drainFlows(b, d)
			mac := net.HardwareAddr{2, 0, 0, 0, 0, 1}
			must(b, d.UpsertEndpoint(Endpoint{IP: podA, IfIndex: 1, ID: 1, Identity: 1001, MAC: mac, NodeMAC: mac}))
			must(b, d.UpsertEndpoint(Endpoint{IP: podB, IfIndex: 1000, ID: 2, Identity: 1002, MAC: mac, NodeMAC: mac}))
			lb := testLB{b, d}
			for i := range n {
				lb.set(benchVIP(i), ProtoTCP, uint16(i+1), 0, 0, testBackend{uint32(i + 1), netip.AddrPortFrom(podB, 8080)})
			}
			vip := benchVIP(n - 1)
			pkt := tcpPacket(podA, vip.Addr(), 40000, vip.Port())
			if ret, _, err := d.FromContainer().Benchmark(pkt, 1, nil); err != nil || ret != tcActRedirect {
				b.Fatalf("first run: %d, %v (want a redirect to the backend)", ret, err)
			}
			b.ResetTimer()
			var total time.Duration
			for range b.N {
				_, dur, err := d.FromContainer().Benchmark(pkt, 1, nil)
				if err != nil {
					b.Fatal(err)
				}
				total += dur
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "ns/pkt")
		})
	}
}
