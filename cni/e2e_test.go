package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/containernetworking/cni/pkg/types"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/ipam"
	"github.com/hivenet/hivenet/reconcilers"
)

func TestPodToPodTCPUDPICMP(t *testing.T) {
	n := newNode(t)
	a, b := n.addPod("a"), n.addPod("b")
	if a.ip == b.ip || !n.podRange.Contains(a.ip) || !n.podRange.Contains(b.ip) {
		t.Fatalf("pod addresses %s, %s: want two distinct addresses in %s", a.ip, b.ip, n.podRange)
	}

	// TCP
	peers := serveEcho(listenTCP(t, b.netns, netip.AddrPortFrom(b.ip, 8080)))
	c, err := dialTCP(t, a.netns, netip.AddrPortFrom(b.ip, 8080))
	if err != nil {
		t.Fatalf("TCP a -> b: %v\nagent log:\n%s", err, n.agentLog)
	}
	defer c.Close()
	if err := roundTrip(c, "hello over tcp"); err != nil {
		t.Fatalf("TCP a -> b: %v", err)
	}
	if p := <-peers; p.Addr() != a.ip {
		t.Fatalf("b saw the connection from %s, want a's own address %s (no NAT between pods)", p, a.ip)
	}

	// UDP
	var srv net.PacketConn
	inNetns(t, b.netns, func() (err error) {
		srv, err = net.ListenPacket("udp4", netip.AddrPortFrom(b.ip, 5353).String())
		return
	})
	defer srv.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			k, from, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = srv.WriteTo(buf[:k], from)
		}
	}()
	var uc net.Conn
	inNetns(t, a.netns, func() (err error) { uc, err = net.Dial("udp4", netip.AddrPortFrom(b.ip, 5353).String()); return })
	defer uc.Close()
	if err := roundTrip(uc, "hello over udp"); err != nil {
		t.Fatalf("UDP a -> b: %v", err)
	}

	// ICMP: b's kernel answers the echo request.
	if err := ping(t, a.netns, b.ip); err != nil {
		t.Fatalf("ICMP a -> b: %v", err)
	}
	// The CLI shows both endpoints and the connections they made.
	eps := n.cli("endpoint", "list")
	for _, want := range []string{a.ip.String(), b.ip.String(), "k8s:io.kubernetes.pod.namespace=default", "ready"} {
		if !strings.Contains(eps, want) {
			t.Errorf("hivenet endpoint list lacks %q:\n%s", want, eps)
		}
	}
	ct := n.cli("bpf", "ct", "list", "global")
	for _, want := range []string{
		"TCP OUT " + a.ip.String(), "-> " + b.ip.String() + ":8080",
		"UDP OUT " + a.ip.String(), "-> " + b.ip.String() + ":5353",
	} {
		if !strings.Contains(ct, want) {
			t.Errorf("hivenet bpf ct list lacks %q:\n%s", want, ct)
		}
	}

	// The router address answers too: the node owns it.
	if err := ping(t, a.netns, netip.MustParseAddr(a.result.IPs[0].Gateway.String())); err != nil {
		t.Fatalf("ICMP a -> router: %v", err)
	}
}

// ping sends one ICMP echo request from namespace ns to dst and waits for the reply.
func ping(t *testing.T, ns string, dst netip.Addr) error {
	t.Helper()
	var conn *icmp.PacketConn
	inNetns(t, ns, func() (err error) { conn, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0"); return })
	defer conn.Close()
	id := os.Getpid() & 0xffff
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: 1, Data: []byte("hivenet")}}
	wire, _ := msg.Marshal(nil)
	deadline := time.Now().Add(5 * time.Second)
	_ = conn.SetDeadline(deadline)
	if _, err := conn.WriteTo(wire, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for time.Now().Before(deadline) {
		k, from, err := conn.ReadFrom(buf)
		if err != nil {
			return err
		}
		reply, err := icmp.ParseMessage(1, buf[:k])
		if err != nil || reply.Type != ipv4.ICMPTypeEchoReply || from.String() != dst.String() {
			continue
		}
		if echo, ok := reply.Body.(*icmp.Echo); ok && echo.ID == id {
			return nil
		}
	}
	return errors.New("no echo reply")
}

func TestPodToNodeAndMasqueradeToOutside(t *testing.T) {
	n := newNode(t)
	a := n.addPod("a")

	// The node's own address: no masquerade inside the node.
	nodePeers := serveEcho(listenTCP(t, n.netns, netip.AddrPortFrom(n.nodeIP, 9000)))
	c, err := dialTCP(t, a.netns, netip.AddrPortFrom(n.nodeIP, 9000))
	if err != nil {
		t.Fatalf("pod -> node: %v", err)
	}
	if err := roundTrip(c, "to the node"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if p := <-nodePeers; p.Addr() != a.ip {
		t.Errorf("node saw %s, want the pod's address %s", p, a.ip)
	}

	// Outside the node: the outside host has no route to the pod range, so
	// this only works because the node masquerades.
	outPeers := serveEcho(listenTCP(t, n.outside, netip.AddrPortFrom(n.outIP, 9001)))
	c, err = dialTCP(t, a.netns, netip.AddrPortFrom(n.outIP, 9001))
	if err != nil {
		t.Fatalf("pod -> outside: %v", err)
	}
	defer c.Close()
	if err := roundTrip(c, "to the world"); err != nil {
		t.Fatal(err)
	}
	if p := <-outPeers; p.Addr() != n.nodeIP {
		t.Fatalf("outside saw the connection from %s, want the node's address %s", p.Addr(), n.nodeIP)
	}
}

func TestMasqueradeCanBeDisabled(t *testing.T) {
	n := newNode(t, "--enable-ipv4-masquerade=false")
	a := n.addPod("a")
	serveEcho(listenTCP(t, n.outside, netip.AddrPortFrom(n.outIP, 9001)))
	if c, err := dialTCP(t, a.netns, netip.AddrPortFrom(n.outIP, 9001)); err == nil {
		c.Close()
		t.Fatal("pod reached the outside without masquerading, but the outside has no route back to pods")
	}
}

func TestDelRemovesEveryTrace(t *testing.T) {
	n := newNode(t)
	a, b := n.addPod("a"), n.addPod("b")
	// Make some conntrack state for a.
	serveEcho(listenTCP(t, b.netns, netip.AddrPortFrom(b.ip, 8080)))
	c, err := dialTCP(t, a.netns, netip.AddrPortFrom(b.ip, 8080))
	if err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(c, "x"); err != nil {
		t.Fatal(err)
	}
	c.Close()

	host := a.result.Interfaces[0].Name
	if !linkExists(t, n.netns, host) {
		t.Fatalf("node-side interface %s missing after ADD", host)
	}
	n.delPod(a)

	if linkExists(t, n.netns, host) {
		t.Errorf("node-side interface %s still exists", host)
	}
	if linkExists(t, a.netns, "eth0") {
		t.Errorf("eth0 still exists in the pod")
	}
	var routes string
	inNetns(t, n.netns, func() error {
		out, err := sh("ip", "route", "show")
		routes = out
		return err
	})
	if strings.Contains(routes, a.ip.String()) {
		t.Errorf("a route to %s is left:\n%s", a.ip, routes)
	}
	for _, al := range table[ipam.Allocation](n, "ipam") {
		if al.IP == a.ip {
			t.Errorf("address %s still allocated: %+v", a.ip, al)
		}
	}
	eps := table[endpoints.Endpoint](n, "endpoints")
	if len(eps) != 1 || eps[0].IPv4 != b.ip {
		t.Errorf("endpoints table = %+v, want only b", eps)
	}
	if _, err := os.Stat(filepath.Join(n.dir, "state", "endpoints", "1.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file of a's endpoint still exists (%v)", err)
	}
	// The endpoints map and conntrack have nothing of a.
	lxc, err := ebpf.LoadPinnedMap(bpf.MapPinPath(n.bpfRoot, bpf.MapEndpoints), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lxc.Close()
	var info bpf.EndpointInfo
	if err := lxc.Lookup(bpf.NewEndpointKey(a.ip), &info); !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Errorf("endpoints map still has %s (lookup: %v)", a.ip, err)
	}
	if err := lxc.Lookup(bpf.NewEndpointKey(b.ip), &info); err != nil {
		t.Errorf("endpoints map lost b: %v", err)
	}
	cts, err := bpf.DumpConntrack(n.bpfRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range cts {
		if strings.Contains(ct.String(), a.ip.String()+":") {
			t.Errorf("conntrack entry of a left: %s", ct)
		}
	}

	// DEL is idempotent.
	n.delPod(a)
	// The address is reused by the next pod.
	if c := n.addPod("c"); c.ip != a.ip {
		t.Errorf("next pod got %s, want the released %s", c.ip, a.ip)
	}
}

func sh(name string, args ...string) (string, error) {
	out, err := osexec(name, args...)
	return string(out), err
}

func TestSecondAddAndCheck(t *testing.T) {
	n := newNode(t)
	a := n.addPod("a")
	// A runtime that lost the answer retries ADD: same result, no second endpoint.
	out, err := n.cni("ADD", a.containerID, "/var/run/netns/"+a.netns, "eth0", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=a")
	if err != nil {
		t.Fatalf("second ADD: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), a.ip.String()+"/32") {
		t.Fatalf("second ADD result %s, want the same address %s", out, a.ip)
	}
	if eps := table[endpoints.Endpoint](n, "endpoints"); len(eps) != 1 {
		t.Fatalf("%d endpoints after a repeated ADD, want 1", len(eps))
	}

	if out, err := n.cni("CHECK", a.containerID, "/var/run/netns/"+a.netns, "eth0", ""); err != nil {
		t.Fatalf("CHECK of a healthy pod: %v\n%s", err, out)
	}
	// Break the pod's interface: CHECK must say so, as CNI error JSON.
	inNetns(t, a.netns, func() error { _, err := sh("ip", "link", "del", "eth0"); return err })
	out, err = n.cni("CHECK", a.containerID, "/var/run/netns/"+a.netns, "eth0", "")
	if err == nil {
		t.Fatal("CHECK passed for a pod without its interface")
	}
	var cniErr types.Error
	if json.Unmarshal(out, &cniErr) != nil || cniErr.Code == 0 || cniErr.Msg == "" {
		t.Fatalf("CHECK failure is not CNI error JSON: %s", out)
	}

	// ADD into a namespace that does not exist: CNI code 3.
	out, err = n.cni("ADD", "ctr-ghost", "/var/run/netns/hvcni-no-such-ns", "eth0", "")
	if err == nil || json.Unmarshal(out, &cniErr) != nil || cniErr.Code != types.ErrUnknownContainer {
		t.Fatalf("ADD into a missing netns: err=%v out=%s, want CNI code %d", err, out, types.ErrUnknownContainer)
	}
	if allocs := table[ipam.Allocation](n, "ipam"); len(allocs) != 0 {
		// a's address was released by the replacing ADD? No: a still holds
		// it; only the failed ADD's address must not leak.
		for _, al := range allocs {
			if strings.HasPrefix(al.Owner, "ctr-ghost") {
				t.Errorf("failed ADD leaked %s", al.IP)
			}
		}
	}
}

func TestFullPoolIsAClearCNIError(t *testing.T) {
	n := newNode(t, "--ipv4-range", "10.231.7.0/29")
	n.podRange = netip.MustParsePrefix("10.231.7.0/29")
	for i := range 5 {
		n.addPod(fmt.Sprintf("p%d", i))
	}
	p := "hvcni-full-" + randHex(2)
	run(t, "ip", "netns", "add", p)
	t.Cleanup(func() { osexec("ip", "netns", "del", p) })
	out, err := n.cni("ADD", "ctr-full", "/var/run/netns/"+p, "eth0", "")
	var cniErr types.Error
	if err == nil || json.Unmarshal(out, &cniErr) != nil {
		t.Fatalf("ADD on a full pool: err=%v out=%s", err, out)
	}
	if cniErr.Code != types.ErrTryAgainLater || !strings.Contains(cniErr.Details, "10.231.7.0/29") || !strings.Contains(cniErr.Details, "exhausted") {
		t.Fatalf("ADD on a full pool = %+v, want code 11 naming the exhausted range", cniErr)
	}
	if linkExists(t, p, "eth0") {
		t.Error("failed ADD left an interface in the pod")
	}
}

func TestConflistWrittenWhenReady(t *testing.T) {
	n := newNode(t)
	b, err := os.ReadFile(filepath.Join(n.dir, "net.d", "05-hivenet.conflist"))
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		CNIVersion string `json:"cniVersion"`
		Name       string `json:"name"`
		Plugins    []struct {
			Type       string `json:"type"`
			SocketPath string `json:"socket-path"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		t.Fatalf("conflist is not JSON: %v\n%s", err, b)
	}
	if conf.Name != "hivenet" || len(conf.Plugins) != 1 || conf.Plugins[0].Type != "hivenet-cni" || conf.Plugins[0].SocketPath != n.sock {
		t.Fatalf("conflist = %s", b)
	}
}

// TestAgentRestartKeepsTraffic kills the agent with SIGKILL while a TCP
// connection between two pods is open and new connections keep starting:
// the programs stay attached (pinned links), so every connection succeeds,
// and the restarted agent restores both endpoints.
func TestAgentRestartKeepsTraffic(t *testing.T) {
	n := newNode(t)
	a, b := n.addPod("a"), n.addPod("b")
	serveEcho(listenTCP(t, b.netns, netip.AddrPortFrom(b.ip, 8080)))
	long, err := dialTCP(t, a.netns, netip.AddrPortFrom(b.ip, 8080))
	if err != nil {
		t.Fatal(err)
	}
	defer long.Close()
	if err := roundTrip(long, "before"); err != nil {
		t.Fatal(err)
	}

	// New connections, one after another, for the whole restart.
	var attempts, failures atomic.Int32
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			attempts.Add(1)
			c, err := dialTCP(t, a.netns, netip.AddrPortFrom(b.ip, 8080))
			if err == nil {
				err = roundTrip(c, fmt.Sprintf("during %d", i))
				c.Close()
			}
			if err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	time.Sleep(200 * time.Millisecond)
	n.killAgent()
	time.Sleep(500 * time.Millisecond) // traffic with no agent at all
	// The programs stay attached through their pinned links, so the
	// datapath (not plain kernel routing) carries that traffic.
	links, _ := filepath.Glob(filepath.Join(n.bpfRoot, "links", a.result.Interfaces[0].Name+"*"))
	if len(links) == 0 {
		t.Fatalf("no pinned links for %s while the agent is down", a.result.Interfaces[0].Name)
	}
	if err := roundTrip(long, "while down"); err != nil {
		t.Fatalf("open connection broke while the agent was down: %v", err)
	}
	n.startAgent()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	if f := failures.Load(); f != 0 {
		t.Fatalf("%d of %d new connections failed during the restart; first: %v", f, attempts.Load(), firstErr.Load())
	}
	if attempts.Load() < 10 {
		t.Fatalf("only %d connections tried during the restart", attempts.Load())
	}
	if err := roundTrip(long, "after"); err != nil {
		t.Fatalf("open connection broke across the restart: %v", err)
	}
	eps := table[endpoints.Endpoint](n, "endpoints")
	if len(eps) != 2 {
		t.Fatalf("restored %d endpoints, want 2", len(eps))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		done := 0
		for _, e := range table[endpoints.Endpoint](n, "endpoints") {
			if e.Status.Kind == reconcilers.StatusKindDone {
				done++
			}
		}
		if done == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restored endpoints not reconciled: %+v", table[endpoints.Endpoint](n, "endpoints"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// And the restored agent still serves CNI for them.
	n.delPod(a)
	if linkExists(t, n.netns, a.result.Interfaces[0].Name) {
		t.Error("DEL after restart left the interface")
	}
}

// TestStatusAndVersion: STATUS answers whether the agent can serve ADD
// (CNI code 50 when it cannot), VERSION lists the supported versions.
func TestStatusAndVersion(t *testing.T) {
	n := newNode(t)
	if out, err := n.cni("STATUS", "", "", "", ""); err != nil {
		t.Fatalf("STATUS with a healthy agent: %v\n%s", err, out)
	}
	out, err := n.cni("VERSION", "", "", "", "")
	if err != nil || !strings.Contains(string(out), `"1.1.0"`) || !strings.Contains(string(out), `"0.4.0"`) {
		t.Fatalf("VERSION: %v\n%s", err, out)
	}
	n.stopAgent()
	out, err = n.cni("STATUS", "", "", "", "")
	var cniErr types.Error
	if err == nil || json.Unmarshal(out, &cniErr) != nil || cniErr.Code != types.ErrPluginNotAvailable {
		t.Fatalf("STATUS without an agent: err=%v out=%s, want CNI code %d", err, out, types.ErrPluginNotAvailable)
	}
}
