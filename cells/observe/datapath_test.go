package observe

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/datapath"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/observe/flow"
	"github.com/hivenet/hivenet/statedb"

	"github.com/hivenet/hivenet/test/netnstest"
)

// This file runs the observe cell on the real datapath: a node network
// namespace, two pods joined to it by veths the way Cilium wires them (a /32
// in the pod, a link-scope route to the gateway, static neighbours), the
// programs attached to the node-side veths, and a real TCP exchange.
// Every netns, link and bpffs directory is named hvob-*.

const hvobGateway = "10.201.0.1"

type hvobPod struct {
	ep      *endpoints.Endpoint
	ns      netns.NsHandle
	lxc     string
	ifindex int
	mac     net.HardwareAddr
	nodeMAC net.HardwareAddr
}

// onThreadIn runs f on an OS thread switched into ns.
var onThreadIn = netnstest.Do

func hvobNetns(t testing.TB, name string) netns.NsHandle {
	t.Helper()
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
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	return ns
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func hvobAddPod(t testing.TB, node *netlink.Handle, prefix string, host int, ep *endpoints.Endpoint) *hvobPod {
	p := &hvobPod{ep: ep, lxc: fmt.Sprintf("hvob-lxc%d", host)}
	p.ns = hvobNetns(t, fmt.Sprintf("%s-p%d", prefix, host))
	check(t, node.LinkAdd(&netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: p.lxc}, PeerName: "eth0", PeerNamespace: netlink.NsFd(p.ns),
	}))
	lxc, err := node.LinkByName(p.lxc)
	check(t, err)
	p.ifindex, p.nodeMAC = lxc.Attrs().Index, lxc.Attrs().HardwareAddr
	check(t, node.LinkSetUp(lxc))

	pnl, err := netlink.NewHandleAt(p.ns)
	check(t, err)
	defer pnl.Close()
	eth0, err := pnl.LinkByName("eth0")
	check(t, err)
	p.mac = eth0.Attrs().HardwareAddr
	lo, err := pnl.LinkByName("lo")
	check(t, err)
	check(t, pnl.LinkSetUp(lo))
	check(t, pnl.LinkSetUp(eth0))
	check(t, pnl.AddrAdd(eth0, &netlink.Addr{IPNet: netlink.NewIPNet(ep.IPv4.AsSlice())}))
	gw := net.ParseIP(hvobGateway)
	check(t, pnl.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Dst: netlink.NewIPNet(gw), Scope: netlink.SCOPE_LINK}))
	check(t, pnl.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: gw}))
	check(t, pnl.NeighAdd(&netlink.Neigh{LinkIndex: eth0.Attrs().Index, State: netlink.NUD_PERMANENT, IP: gw, HardwareAddr: p.nodeMAC}))
	check(t, node.RouteAdd(&netlink.Route{LinkIndex: p.ifindex, Dst: netlink.NewIPNet(ep.IPv4.AsSlice()), Scope: netlink.SCOPE_LINK}))
	check(t, node.NeighAdd(&netlink.Neigh{LinkIndex: p.ifindex, State: netlink.NUD_PERMANENT, IP: ep.IPv4.AsSlice(), HardwareAddr: p.mac}))
	return p
}

// hvobEnv is a node with two pods on the real datapath and an agent (API
// server, endpoints table, observe cell reading the datapath's flows).
type hvobEnv struct {
	nodeNS         netns.NsHandle
	client, server *hvobPod
	d              *bpf.Datapath
	obs            *Observer
	sock           string
	src            FlowSource
}

// setupHvob builds the topology; tune adjusts the datapath configuration.
func setupHvob(t testing.TB, tune func(*bpf.Config)) *hvobEnv {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: it creates network namespaces, veths and BPF programs")
	}
	b := make([]byte, 3)
	check(t, func() error { _, err := rand.Read(b); return err }())
	prefix := "hvob-" + hex.EncodeToString(b)

	nodeNS := hvobNetns(t, prefix+"-node")
	node, err := netlink.NewHandleAt(nodeNS)
	check(t, err)
	t.Cleanup(node.Close)
	lo, err := node.LinkByName("lo")
	check(t, err)
	check(t, node.LinkSetUp(lo))
	check(t, node.AddrAdd(lo, &netlink.Addr{IPNet: netlink.NewIPNet(net.ParseIP(hvobGateway))}))
	check(t, onThreadIn(nodeNS, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
	}))

	client := hvobAddPod(t, node, prefix, 2, &endpoints.Endpoint{ID: 2002, Namespace: "default", Pod: "client-xyz",
		Identity: 4605, Labels: map[string]string{"app": "client"}, IPv4: netip.MustParseAddr("10.201.0.2"), State: endpoints.StateReady})
	server := hvobAddPod(t, node, prefix, 3, &endpoints.Endpoint{ID: 2003, Namespace: "default", Pod: "server-abc",
		Identity: 22656, Labels: map[string]string{"app": "server"}, IPv4: netip.MustParseAddr("10.201.0.3"), State: endpoints.StateReady})

	cfg := bpf.DefaultConfig
	cfg.BPFRoot = "/sys/fs/bpf/" + prefix
	cfg.CTGlobalTCPMax, cfg.CTGlobalAnyMax = 1<<16, 1<<16
	if tune != nil {
		tune(&cfg)
	}
	d, err := bpf.Load(cfg, nil)
	if err != nil {
		bpf.RemoveAll(cfg.BPFRoot)
		t.Fatalf("load datapath: %v", err)
	}
	t.Cleanup(func() {
		d.Close()
		if err := bpf.RemoveAll(cfg.BPFRoot); err != nil {
			t.Error(err)
		}
	})
	for _, p := range []*hvobPod{client, server} {
		check(t, d.UpsertEndpoint(bpf.Endpoint{IP: p.ep.IPv4, IfIndex: p.ifindex, ID: p.ep.ID, Identity: p.ep.Identity, MAC: p.mac, NodeMAC: p.nodeMAC}))
		check(t, onThreadIn(nodeNS, func() error { _, err := d.Attach(p.lxc); return err }))
	}

	// The agent's side: endpoints table, observe cell on the datapath's
	// flows, API server on a socket.
	db := statedb.New()
	tbl, err := endpoints.NewTable()
	check(t, err)
	check(t, db.RegisterTable(tbl))
	wtxn := db.WriteTxn(tbl)
	for _, p := range []*hvobPod{client, server} {
		ep := *p.ep
		ep.HostIfName, ep.HostIfIndex = p.lxc, p.ifindex
		_, _, err := tbl.Insert(wtxn, &ep)
		check(t, err)
	}
	wtxn.Commit()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	src := NewDatapathSource(d)
	var obs *Observer
	h := cell.New(
		api.Cell("test-agent", api.Config{SocketPath: sock}),
		cell.Provide(
			func() *statedb.DB { return db },
			func() statedb.Table[*endpoints.Endpoint] { return tbl.ToTable() },
			func() FlowSource { return src },
		),
		Cell,
		cell.Invoke(func(o *Observer) { obs = o }),
	)
	h.RegisterFlags(pflag.NewFlagSet("agent", pflag.ContinueOnError))
	h.SetLogger(slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	check(t, h.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Stop(ctx); err != nil {
			t.Errorf("hive stop: %v", err)
		}
	})

	// The reader opens in a job after Start returns; wait for it, so that
	// what a test sends is all accounted to this reader.
	deadline := time.Now().Add(5 * time.Second)
	for obs.Status().Source != "datapath flow ring buffer" {
		if time.Now().After(deadline) {
			t.Fatalf("the observe cell did not open the flow ring buffer: %s", obs.Status().Source)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return &hvobEnv{nodeNS: nodeNS, client: client, server: server, d: d, obs: obs, sock: sock, src: src}
}

// TestObserveRealDatapath loads the datapath, attaches it to two pods,
// runs a TCP exchange between them, and checks that the observe cell holds
// the SYN and SYN-ACK with the right pods, ports and verdicts, and that the
// API and the CLI's formatter show them as hubble observe would.
func TestObserveRealDatapath(t *testing.T) {
	e := setupHvob(t, nil)
	client, server, obs, sock := e.client, e.server, e.obs, e.sock

	// A real TCP exchange: client → server:8080, echoed back.
	serverAddr := netip.AddrPortFrom(server.ep.IPv4, 8080)
	var ln net.Listener
	check(t, onThreadIn(server.ns, func() (err error) { ln, err = net.Listen("tcp4", serverAddr.String()); return err }))
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	started := time.Now()
	var conn net.Conn
	check(t, onThreadIn(client.ns, func() (err error) { conn, err = net.Dial("tcp4", serverAddr.String()); return err }))
	clientAddr := conn.LocalAddr().(*net.TCPAddr).AddrPort()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, err := io.WriteString(conn, "hello hivenet")
	check(t, err)
	buf := make([]byte, len("hello hivenet"))
	_, err = io.ReadFull(conn, buf)
	check(t, err)
	conn.Close()

	// The ring holds the handshake, named after the pods.
	find := func(what string, pred func(*Record) bool) *Record {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			for _, r := range obs.ring.Backward(obs.ring.Written()) {
				if pred(r) {
					return r
				}
			}
			if time.Now().After(deadline) {
				var lines []string
				for _, r := range obs.ring.Backward(obs.ring.Written()) {
					lines = append(lines, "  "+flow.Compact(r.ToFlow("")))
				}
				t.Fatalf("no %s in the ring within 5s; it holds:\n%s", what, strings.Join(lines, "\n"))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	syn := find("SYN to the server", func(r *Record) bool {
		return r.Flow.Src == clientAddr && r.Flow.Dst == serverAddr && r.TCP == bpf.TCPSyn && r.Point == bpf.ObsToEndpoint
	})
	synAck := find("SYN-ACK from the server", func(r *Record) bool {
		return r.Flow.Src == serverAddr && r.Flow.Dst == clientAddr && r.TCP == bpf.TCPSyn|bpf.TCPAck && r.Point == bpf.ObsFromEndpoint
	})
	for _, c := range []struct {
		name     string
		r        *Record
		src, dst *endpoints.Endpoint
		reply    bool
	}{{"SYN", syn, client.ep, server.ep, false}, {"SYN-ACK", synAck, server.ep, client.ep, true}} {
		r := c.r
		if r.Verdict != bpf.VerdictForwarded || r.SrcEP == nil || r.DstEP == nil ||
			r.SrcEP.PodName() != c.src.PodName() || r.DstEP.PodName() != c.dst.PodName() ||
			r.SrcIdentity != c.src.Identity || r.DstIdentity != c.dst.Identity || *r.IsReply() != c.reply {
			t.Errorf("%s: %+v (src %v dst %v)", c.name, r.Flow, r.SrcEP, r.DstEP)
		}
		if d := r.Time.Sub(started); d < -time.Second || d > 10*time.Second {
			t.Errorf("%s: time %s is not the exchange's (%s)", c.name, r.Time, started)
		}
	}

	// Over the API, with a filter, and through the CLI's formatter.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	resp, err := hc.Get("http://agent/v1/flows?last=100&pod=default/client-xyz&protocol=tcp&port=8080")
	check(t, err)
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var fr flow.Response
		check(t, json.Unmarshal(sc.Bytes(), &fr))
		lines = append(lines, flow.Compact(fr.Flow))
	}
	cp := fmt.Sprint(clientAddr.Port())
	wantSyn := syn.Time.UTC().Format(flow.TimeFormat) + ": default/client-xyz:" + cp +
		" (ID:4605) -> default/server-abc:8080 (ID:22656) to-endpoint FORWARDED (TCP Flags: SYN)"
	wantSynAck := synAck.Time.UTC().Format(flow.TimeFormat) + ": default/client-xyz:" + cp +
		" (ID:4605) <- default/server-abc:8080 (ID:22656) from-endpoint FORWARDED (TCP Flags: SYN, ACK)"
	for _, want := range []string{wantSyn, wantSynAck} {
		found := false
		for _, l := range lines {
			found = found || l == want
		}
		if !found {
			t.Errorf("GET /v1/flows lacks\n  %s\nit has:\n  %s", want, strings.Join(lines, "\n  "))
		}
	}
	// A drop: the client sends a datagram with an address that is not its
	// own; from-container drops it and says why.
	spoofed, victim := netip.MustParseAddrPort("10.201.0.99:4000"), netip.AddrPortFrom(server.ep.IPv4, 4001)
	check(t, onThreadIn(client.ns, func() error { return sendRawUDP(spoofed, victim) }))
	drop := find("drop of the spoofed datagram", func(r *Record) bool { return r.Verdict == bpf.VerdictDropped && r.Flow.Src == spoofed })
	wantDrop := drop.Time.UTC().Format(flow.TimeFormat) +
		": 10.201.0.99:4000 (world) <> default/server-abc:4001 (ID:22656) Invalid source ip DROPPED (UDP)"
	if got := obs.ToFlow(drop); flow.Compact(got) != wantDrop || got.DropReasonDesc != "INVALID_SOURCE_IP" {
		t.Errorf("drop:\n  %s (%s)\nwant\n  %s", flow.Compact(got), got.DropReasonDesc, wantDrop)
	}

	// And the way a user sees them: the hivenet CLI against this agent.
	cli := filepath.Join(t.TempDir(), "hivenet")
	if out, err := exec.Command("go", "build", "-o", cli, "github.com/hivenet/hivenet/cli").CombinedOutput(); err != nil {
		t.Fatalf("build the CLI: %v\n%s", err, out)
	}
	out, err := exec.Command(cli, "-s", sock, "observe", "--last", "20", "--port", "8080").CombinedOutput()
	if err != nil {
		t.Fatalf("hivenet observe --last 20: %v\n%s", err, out)
	}
	for _, want := range []string{wantSyn, wantSynAck} {
		if !strings.Contains(string(out), want+"\n") {
			t.Errorf("hivenet observe --last 20 lacks\n  %s\nit printed:\n%s", want, out)
		}
	}
	out, err = exec.Command(cli, "-s", sock, "observe", "status").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "/4,095 (") || !strings.Contains(string(out), "Source: datapath flow ring buffer") {
		t.Errorf("hivenet observe status: %v\n%s", err, out)
	}

	out, err = exec.Command(cli, "-s", sock, "observe", "--verdict", "DROPPED", "--to-pod", "default/server-abc").CombinedOutput()
	if err != nil || string(out) != wantDrop+"\n" {
		t.Errorf("hivenet observe --verdict DROPPED --to-pod default/server-abc: %v\n%s\nwant\n%s", err, out, wantDrop)
	}

	st := obs.Status()
	if st.SeenFlows < 2 || st.Source != "datapath flow ring buffer" {
		t.Errorf("status %+v", st)
	}
	t.Logf("hivenet observe would print:\n  %s", strings.Join(lines, "\n  "))
}

// sendRawUDP sends one UDP datagram with an arbitrary source address
// through a raw socket, from the calling thread's namespace.
func sendRawUDP(src, dst netip.AddrPort) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	pkt := make([]byte, 20+8+4)
	pkt[0] = 0x45 // IPv4, 20-byte header
	pkt[3] = byte(len(pkt))
	pkt[8] = 64 // TTL
	pkt[9] = unix.IPPROTO_UDP
	s, d := src.Addr().As4(), dst.Addr().As4()
	copy(pkt[12:], s[:])
	copy(pkt[16:], d[:])
	binary.BigEndian.PutUint16(pkt[20:], src.Port())
	binary.BigEndian.PutUint16(pkt[22:], dst.Port())
	binary.BigEndian.PutUint16(pkt[24:], 12) // UDP length; checksum 0: none
	copy(pkt[28:], "hvob")
	return unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: d})
}

// TestObserveRealDatapathAccountsEveryEvent runs UDP round trips in bursts
// with monitor-aggregation=none and the smallest ring buffer, so that the
// reader is likely to fall behind and events are lost, and checks that every
// event is accounted for: a round trip makes exactly four (from-endpoint and
// to-endpoint each way), and the flows seen plus the events reported lost
// add up to four per round trip. Bursts are small enough (32 datagrams in
// flight) that the kernel drops none before the programs see them.
func TestObserveRealDatapathAccountsEveryEvent(t *testing.T) {
	e := setupHvob(t, func(c *bpf.Config) {
		c.MonitorAggregation = "none"
		c.EventsRingBufferSize = 4096
	})
	dst := netip.AddrPortFrom(e.server.ep.IPv4, 5555)
	var echo net.PacketConn
	check(t, onThreadIn(e.server.ns, func() (err error) { echo, err = net.ListenPacket("udp4", dst.String()); return err }))
	t.Cleanup(func() { echo.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			echo.WriteTo(buf[:n], from)
		}
	}()
	var c net.Conn
	check(t, onThreadIn(e.client.ns, func() (err error) { c, err = net.Dial("udp4", dst.String()); return err }))
	t.Cleanup(func() { c.Close() })

	before, lostBefore := e.obs.ring.Written(), e.obs.Status().Lost
	const bursts, window = 500, 32
	buf := make([]byte, 64)
	for range bursts {
		for range window {
			_, err := c.Write([]byte("round trip"))
			check(t, err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for range window {
			if _, err := c.Read(buf); err != nil {
				t.Fatalf("echo: %v", err)
			}
		}
	}
	want := 4 * uint64(bursts*window)
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Lost is refreshed by the observe cell's one-second timer.
		seen, lost := e.obs.ring.Written()-before, e.obs.Status().Lost-lostBefore
		if seen+lost >= want {
			if seen+lost != want {
				t.Fatalf("seen %d + lost %d = %d events, want exactly %d", seen, lost, seen+lost, want)
			}
			t.Logf("%d round trips: %d events seen, %d lost (ring buffer of 4 KiB)", bursts*window, seen, lost)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: seen %d + lost %d events, want %d", seen, lost, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCellReadsTheDatapathCell runs the observe cell next to the agent's
// datapath cell with no FlowSource in the hive: it reads the datapath's
// flows by itself.
func TestCellReadsTheDatapathCell(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root: it loads the BPF datapath")
	}
	b := make([]byte, 3)
	check(t, func() error { _, err := rand.Read(b); return err }())
	root := "/sys/fs/bpf/hvob-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		if err := bpf.RemoveAll(root); err != nil {
			t.Error(err)
		}
	})
	var obs *Observer
	h := cell.New(datapath.Cell, Cell, cell.Invoke(func(o *Observer) { obs = o }))
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	h.RegisterFlags(fs)
	check(t, fs.Parse([]string{"--bpf-root=" + root, "--bpf-ct-global-tcp-max=65536", "--bpf-ct-global-any-max=65536"}))
	h.SetLogger(slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	check(t, h.Start(ctx))
	defer func() {
		if err := h.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for obs.Status().Source != "datapath flow ring buffer" {
		if time.Now().After(deadline) {
			t.Fatalf("the observe cell is not reading the datapath cell's flows: %s", obs.Status().Source)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
