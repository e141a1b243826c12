package nodes

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hivenet/hivenet/cells/nodes"
	"github.com/hivenet/hivenet/cells/routing"
	"github.com/hivenet/hivenet/reconcilers"
)

func TestPodToPodAcrossNodesNative(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := newCluster(t, ctx, routing.ModeNative)
	n1, n2 := c.addNode(ctx), c.addNode(ctx)
	checkNodeState(t, ctx, c, n1, n2)
	for _, pair := range [][2]*node{{n1, n2}, {n2, n1}} {
		from, to := pair[0], pair[1]
		want := fmt.Sprintf("%s via %s dev eth0", to.podCIDR, to.ip)
		waitFor(t, 30*time.Second, "native route on "+from.name, func() error {
			if r := from.kernelRoutes(); !strings.Contains(r, want) {
				return fmt.Errorf("routes:\n%s\nwant %q", r, want)
			}
			return nil
		})
	}
	a, b := n1.addPod("a"), n2.addPod("b")
	checkPodAddress(t, n1, a)
	checkPodAddress(t, n2, b)
	crossNodeTCP(t, a, b)
	crossNodeTCP(t, b, a)
	restartKeepsTraffic(t, n1, 1, a, b)

	// A node whose agent starts before its Node object is registered: CNI
	// ADD answers "try again later" until the pod CIDR is known.
	n3 := c.newNode()
	n3.spawnAgent()
	ns := n3.name + "-early"
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	out, err := n3.cni("ADD", "ctr-early", "/var/run/netns/"+ns, "K8S_POD_NAMESPACE=default;K8S_POD_NAME=early")
	var cniErr types.Error
	if err == nil || json.Unmarshal(out, &cniErr) != nil || cniErr.Code != types.ErrTryAgainLater {
		t.Fatalf("CNI ADD before the node's pod CIDR is known: %v %s, want error code %d (try again later)", err, out, types.ErrTryAgainLater)
	}
	n3.podCIDR = c.registerNode(ctx, n3.name, n3.ip)
	n3.waitHealthy()
	p3 := n3.addPod("c")
	checkPodAddress(t, n3, p3)
	crossNodeTCP(t, p3, b)
}

func TestPodToPodAcrossNodesTunnel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	c := newCluster(t, ctx, routing.ModeTunnel)
	n1, n2 := c.addNode(ctx), c.addNode(ctx)
	checkNodeState(t, ctx, c, n1, n2)
	for _, pair := range [][2]*node{{n1, n2}, {n2, n1}} {
		from, to := pair[0], pair[1]
		router := to.podCIDR.Addr().Next()
		want := fmt.Sprintf("%s via %s dev %s", to.podCIDR, router, routing.DeviceName)
		waitFor(t, 30*time.Second, "tunnel route on "+from.name, func() error {
			if r := from.kernelRoutes(); !strings.Contains(r, want) {
				return fmt.Errorf("routes:\n%s\nwant %q", r, want)
			}
			return nil
		})
		fdb := run(t, "ip", "netns", "exec", from.name, "bridge", "fdb", "show", "dev", routing.DeviceName)
		if mac := routing.VTEPMAC(to.ip).String(); !strings.Contains(fdb, mac+" dst "+to.ip.String()) {
			t.Fatalf("%s: no FDB entry %s dst %s:\n%s", from.name, mac, to.ip, fdb)
		}
		details := run(t, "ip", "-n", from.name, "-d", "link", "show", routing.DeviceName)
		if !strings.Contains(details, "dstport 8472") || !strings.Contains(details, routing.VTEPMAC(from.ip).String()) {
			t.Fatalf("%s: tunnel device not on port 8472 with its VTEP MAC:\n%s", from.name, details)
		}
	}
	a, b := n1.addPod("a"), n2.addPod("b")
	checkPodAddress(t, n1, a)
	checkPodAddress(t, n2, b)
	crossNodeTCP(t, a, b)
	crossNodeTCP(t, b, a)
	bulkTransfer(t, a, b, 4<<20)
	// Per remote node: the host route to its router and its pod CIDR.
	restartKeepsTraffic(t, n1, 2, a, b)
	apiServerOutage(t, ctx, c, []*node{n1, n2}, a, b)
}

// checkNodeState checks the nodes table of each agent and the CiliumNode
// each agent publishes.
func checkNodeState(t *testing.T, ctx context.Context, c *cluster, all ...*node) {
	t.Helper()
	for _, n := range all {
		waitFor(t, 30*time.Second, "nodes table of "+n.name, func() error {
			rows, err := table[nodes.Node](n, nodes.TableName)
			if err != nil {
				return err
			}
			got := map[string]nodes.Node{}
			for _, r := range rows {
				got[r.Name] = r
			}
			for _, o := range all {
				r, ok := got[o.name]
				switch {
				case !ok:
					return fmt.Errorf("no row for %s in %+v", o.name, rows)
				case r.InternalIP != o.ip || len(r.PodCIDRs) != 1 || r.PodCIDRs[0] != o.podCIDR:
					return fmt.Errorf("row %+v, want IP %s pod CIDR %s", r, o.ip, o.podCIDR)
				case r.RouterIP != o.podCIDR.Addr().Next():
					return fmt.Errorf("row %+v: router should be the first address of %s", r, o.podCIDR)
				case r.Local != (o == n):
					return fmt.Errorf("row %+v: local = %v", r, r.Local)
				}
			}
			return nil
		})
		waitFor(t, 30*time.Second, "CiliumNode of "+n.name, func() error {
			cn, err := c.cilium.V2.CiliumNodes.Get(ctx, "", n.name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if len(cn.Spec.IPAM.PodCIDRs) != 1 || cn.Spec.IPAM.PodCIDRs[0] != n.podCIDR.String() {
				return fmt.Errorf("spec.ipam.podCIDRs = %v, want [%s]", cn.Spec.IPAM.PodCIDRs, n.podCIDR)
			}
			addrs := fmt.Sprint(cn.Spec.Addresses)
			if !strings.Contains(addrs, "InternalIP "+n.ip.String()) || !strings.Contains(addrs, "CiliumInternalIP "+n.podCIDR.Addr().Next().String()) {
				return fmt.Errorf("spec.addresses = %s", addrs)
			}
			if len(cn.OwnerReferences) != 1 || cn.OwnerReferences[0].Kind != "Node" {
				return fmt.Errorf("owner references %v, want the Node", cn.OwnerReferences)
			}
			return nil
		})
	}
}

// checkPodAddress checks that the pod got an address from its node's
// spec.podCIDR (ipam=kubernetes, the default with Kubernetes).
func checkPodAddress(t *testing.T, n *node, p *pod) {
	t.Helper()
	if !n.podCIDR.Contains(p.ip) || p.ip == n.podCIDR.Addr().Next() {
		t.Fatalf("pod %s on %s got %s, want a pod address of the node's pod CIDR %s", p.name, n.name, p.ip, n.podCIDR)
	}
}

// nextPort numbers the echo servers of crossNodeTCP.
var nextPort atomic.Int32

// crossNodeTCP opens a TCP connection from one pod to the other and checks
// that the server sees the client's own pod address (no masquerading).
func crossNodeTCP(t *testing.T, from, to *pod) {
	t.Helper()
	port := uint16(9000 + nextPort.Add(1))
	peers := serveEcho(listenTCP(t, to.netns, netip.AddrPortFrom(to.ip, port)))
	c, err := dialTCP(t, from.netns, netip.AddrPortFrom(to.ip, port))
	if err != nil {
		t.Fatalf("TCP %s (%s) -> %s (%s): %v", from.name, from.ip, to.name, to.ip, err)
	}
	defer c.Close()
	if err := roundTrip(c, "hello from "+from.name); err != nil {
		t.Fatalf("TCP %s -> %s: %v", from.name, to.name, err)
	}
	if p := <-peers; p.Addr() != from.ip {
		t.Fatalf("%s saw the connection from %s, want %s's own address %s", to.name, p, from.name, from.ip)
	}
}

// bulkTransfer sends size random bytes through the echo server and checks
// they come back intact: full-sized segments cross the tunnel.
func bulkTransfer(t *testing.T, from, to *pod, size int) {
	t.Helper()
	serveEcho(listenTCP(t, to.netns, netip.AddrPortFrom(to.ip, 8100)))
	c, err := dialTCP(t, from.netns, netip.AddrPortFrom(to.ip, 8100))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	data := make([]byte, size)
	_, _ = rand.Read(data)
	errc := make(chan error, 1)
	go func() { _, err := c.Write(data); errc <- err }()
	got := make([]byte, size)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("bulk transfer %s -> %s: %v", from.name, to.name, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("bulk transfer corrupted")
	}
}

// traffic keeps an established connection and a stream of new connections
// going from a pod to another until stopped, counting failures.
type traffic struct {
	attempts, failures atomic.Int32
	firstErr           atomic.Value
	stop               chan struct{}
	wg                 sync.WaitGroup
}

func startTraffic(t *testing.T, from, to *pod, port uint16) *traffic {
	t.Helper()
	serveEcho(listenTCP(t, to.netns, netip.AddrPortFrom(to.ip, port)))
	long, err := dialTCP(t, from.netns, netip.AddrPortFrom(to.ip, port))
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(long, "before"); err != nil {
		t.Fatal(err)
	}
	tr := &traffic{stop: make(chan struct{})}
	fail := func(err error) {
		tr.failures.Add(1)
		tr.firstErr.CompareAndSwap(nil, err.Error())
	}
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		defer long.Close()
		for i := 0; ; i++ {
			select {
			case <-tr.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			tr.attempts.Add(1)
			if err := roundTrip(long, fmt.Sprintf("long %d", i)); err != nil {
				fail(fmt.Errorf("established connection: %w", err))
			}
			if i%5 != 0 {
				continue
			}
			var c net.Conn
			c, err := dialTCP(t, from.netns, netip.AddrPortFrom(to.ip, port))
			if err == nil {
				err = roundTrip(c, fmt.Sprintf("new %d", i))
				c.Close()
			}
			if err != nil {
				fail(fmt.Errorf("new connection: %w", err))
			}
		}
	}()
	return tr
}

// end stops the traffic and fails the test if any of it failed.
func (tr *traffic) end(t *testing.T, during string) {
	t.Helper()
	close(tr.stop)
	tr.wg.Wait()
	if f := tr.failures.Load(); f != 0 {
		t.Fatalf("%d of %d round trips failed %s; first: %v", f, tr.attempts.Load(), during, tr.firstErr.Load())
	}
	if tr.attempts.Load() < 10 {
		t.Fatalf("only %d round trips %s", tr.attempts.Load(), during)
	}
	t.Logf("%d round trips %s, none failed", tr.attempts.Load(), during)
}

// routesDone waits until every row of the agent's routes table is in the
// kernel and returns the rows.
func routesDone(t *testing.T, n *node, want int) []routing.Route {
	t.Helper()
	var rows []routing.Route
	waitFor(t, 30*time.Second, "routes of "+n.name+" reconciled", func() error {
		var err error
		if rows, err = table[routing.Route](n, routing.RoutesTableName); err != nil {
			return err
		}
		if len(rows) != want {
			nodesRows, _ := table[json.RawMessage](n, nodes.TableName)
			return fmt.Errorf("%d routes, want %d: %+v\nnodes: %s\nkernel: %s", len(rows), want, rows, nodesRows, n.kernelRoutes())
		}
		for _, r := range rows {
			if r.Status.Kind != reconcilers.StatusKindDone {
				return fmt.Errorf("route %s: %s", r.Route, r.Status)
			}
		}
		return nil
	})
	return rows
}

// restartKeepsTraffic SIGKILLs n's agent and starts it again while a's
// traffic to b flows, and checks that the routes never left the kernel.
func restartKeepsTraffic(t *testing.T, n *node, nRoutes int, a, b *pod) {
	t.Helper()
	routesDone(t, n, nRoutes)
	before := n.kernelRoutes()
	tr := startTraffic(t, a, b, 8200)
	time.Sleep(300 * time.Millisecond)
	n.killAgent()
	time.Sleep(500 * time.Millisecond)
	if got := n.kernelRoutes(); got != before {
		t.Fatalf("routes changed while the agent was down:\nbefore:\n%s\nnow:\n%s", before, got)
	}
	n.startAgent()
	routesDone(t, n, nRoutes)
	time.Sleep(500 * time.Millisecond) // past the first prune
	tr.end(t, "across the agent restart")
	if got := n.kernelRoutes(); got != before {
		t.Fatalf("routes changed across the restart:\nbefore:\n%s\nafter:\n%s", before, got)
	}
}

// apiServerOutage stops the API server for 30 s while traffic flows, starts
// it again, then registers a new node and checks every agent routes to it,
// and deletes it again.
func apiServerOutage(t *testing.T, ctx context.Context, c *cluster, agents []*node, a, b *pod) {
	t.Helper()
	tr := startTraffic(t, a, b, 8300)
	c.cp.StopAPIServer()
	t.Log("API server stopped")
	outage := time.After(30 * time.Second)
	// One agent crashes and restarts while the API server is away: it comes
	// back from its state directory alone and must not prune what it
	// cannot list.
	restarted := agents[len(agents)-1]
	before := restarted.kernelRoutes()
	time.Sleep(2 * time.Second)
	restarted.killAgent()
	restarted.spawnAgent()
	restarted.waitServing()
	time.Sleep(2 * time.Second)
	if got := restarted.kernelRoutes(); got != before {
		t.Fatalf("routes of %s changed when it restarted without the API server:\nbefore:\n%s\nafter:\n%s", restarted.name, before, got)
	}
	t.Logf("agent %s restarted while the API server was down", restarted.name)
	for done := false; !done; {
		select {
		case <-outage:
			done = true
		case <-time.After(time.Second):
			for _, n := range agents {
				select {
				case err := <-n.waitErr:
					t.Fatalf("agent %s exited while the API server was down: %v\n%s", n.name, err, n.agentLog)
				default:
				}
			}
		}
	}
	if err := c.startAPIServer(ctx); err != nil {
		t.Fatalf("restart API server: %v", err)
	}
	t.Log("API server started again")
	tr.end(t, "while the API server was down for 30s")

	name, ip := c.addNetns()
	cidr := c.registerNode(ctx, name, ip)
	for _, n := range agents {
		want := fmt.Sprintf("%s via %s dev %s", cidr, cidr.Addr().Next(), routing.DeviceName)
		waitFor(t, 90*time.Second, "route to the new node on "+n.name, func() error {
			if r := n.kernelRoutes(); !strings.Contains(r, want) {
				return fmt.Errorf("routes:\n%s\nwant %q", r, want)
			}
			return nil
		})
	}

	// And a node deleted from the cluster loses its routes everywhere.
	if err := c.kube.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range agents {
		waitFor(t, 30*time.Second, "route to the deleted node gone on "+n.name, func() error {
			if r := n.kernelRoutes(); strings.Contains(r, cidr.String()) || strings.Contains(r, cidr.Addr().Next().String()) {
				return fmt.Errorf("routes:\n%s\nstill lead to %s", r, cidr)
			}
			return nil
		})
	}
}
