package services

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
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
	"sync"
	"syscall"
	"testing"
	"time"

	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	apiextensionsclientset "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hivenet/hivenet/cells/k8s/crds"
	"github.com/hivenet/hivenet/test/box"
)

// The end-to-end harness: a real control plane (test/box) in the host's
// namespace, a node namespace running the real hivenet-agent process that
// reads Services and EndpointSlices from it, and pods wired by the real
// hivenet-cni binary. The node reaches the API server over a veth whose
// host side carries the API server's address. Every name starts with
// hvsv-.

var (
	binOnce                  sync.Once
	binDir                   string
	binErr                   error
	agentBin, cniBin, cliBin string
)

func buildBinaries(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("these tests create network namespaces and load BPF programs: run them as root")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hvsv-bin-")
		if err != nil {
			binErr = err
			return
		}
		binDir = dir
		for pkg, out := range map[string]*string{
			"github.com/hivenet/hivenet/daemon": &agentBin,
			"github.com/hivenet/hivenet/cni":    &cniBin,
			"github.com/hivenet/hivenet/cli":    &cliBin,
		} {
			*out = filepath.Join(dir, filepath.Base(pkg))
			if b, err := exec.Command("go", "build", "-o", *out, pkg).CombinedOutput(); err != nil {
				binErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

type e2eNode struct {
	t        testing.TB
	prefix   string
	netns    string
	dir      string
	sock     string
	bpfRoot  string
	podRange netip.Prefix
	nodeIP   netip.Addr // node side of the host link
	hostIP   netip.Addr // host side: the API server and the outside client
	cp       *box.ControlPlane
	k8s      *kubernetes.Clientset
	args     []string
	agent    *exec.Cmd
	agentLog *bytes.Buffer
	waitErr  chan error
}

type e2ePod struct {
	name, netns, containerID string
	ip                       netip.Addr
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// newE2ENode starts the control plane, the node namespace and its agent.
func newE2ENode(t testing.TB, extraArgs ...string) *e2eNode {
	t.Helper()
	buildBinaries(t)
	b := make([]byte, 3)
	rand.Read(b)
	p := "hvsv-" + hex.EncodeToString(b)
	o := int(b[2]) % 200
	n := &e2eNode{
		t: t, prefix: p, netns: p + "-node", dir: t.TempDir(),
		bpfRoot:  "/sys/fs/bpf/" + p,
		podRange: netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/24", 20+o)),
		hostIP:   netip.AddrFrom4([4]byte{172, 30, byte(o), 1}),
		nodeIP:   netip.AddrFrom4([4]byte{172, 30, byte(o), 2}),
	}
	n.sock = filepath.Join(n.dir, "agent.sock")
	run(t, "ip", "netns", "add", n.netns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.netns).Run() })
	t.Cleanup(func() { os.RemoveAll(n.bpfRoot) })
	host := p + "h"
	run(t, "ip", "link", "add", host, "type", "veth", "peer", "name", "ext0", "netns", n.netns)
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
	run(t, "ip", "addr", "add", n.hostIP.String()+"/30", "dev", host)
	run(t, "ip", "link", "set", host, "up")
	run(t, "ip", "-n", n.netns, "link", "set", "lo", "up")
	run(t, "ip", "-n", n.netns, "addr", "add", n.nodeIP.String()+"/30", "dev", "ext0")
	run(t, "ip", "-n", n.netns, "link", "set", "ext0", "up")
	run(t, "ip", "-n", n.netns, "route", "add", "default", "via", n.hostIP.String())
	// The outside client (the host) reaches the pods through the node.
	run(t, "ip", "route", "add", n.podRange.String(), "via", n.nodeIP.String())

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cp, err := box.Start(ctx, box.Config{BindAddress: n.hostIP.String(), NoControllerManager: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	n.cp = cp
	if n.k8s, err = kubernetes.NewForConfig(cp.RESTConfig()); err != nil {
		t.Fatal(err)
	}

	// What the operator and a kubelet would have done: the cilium.io CRDs,
	// and this node's Node object with its pod CIDR.
	ext, err := apiextensionsclientset.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := crds.Register(ctx, ext, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: p}, Spec: corev1.NodeSpec{PodCIDR: n.podRange.String(), PodCIDRs: []string{n.podRange.String()}}}
	if _, err := n.k8s.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	args := append([]string{
		"--socket-path", n.sock,
		"--state-dir", filepath.Join(n.dir, "state"),
		"--bpf-root", n.bpfRoot,
		"--ipv4-range", n.podRange.String(),
		"--k8s-kubeconfig-path", cp.Kubeconfig,
		"--k8s-node-name", p,
	}, extraArgs...)
	n.args = args
	n.agentLog = &bytes.Buffer{}
	n.startAgent()
	t.Cleanup(n.stopAgent)
	return n
}

func (n *e2eNode) startAgent() {
	n.t.Helper()
	// nsenter, not `ip netns exec`: that would give the agent a private
	// mount namespace, and its bpffs pins would die with it.
	n.agent = exec.Command("nsenter", append([]string{"--net=/var/run/netns/" + n.netns, "--", agentBin}, n.args...)...)
	n.agent.Stdout, n.agent.Stderr = &syncWriter{w: n.agentLog}, &syncWriter{w: n.agentLog}
	if err := n.agent.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.waitErr = make(chan error, 1)
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(n.agent, n.waitErr)
	n.waitHealthy()
}

// killAgent kills the agent with SIGKILL, as a crash would; nsenter execs
// the agent, so the pid is the agent's.
func (n *e2eNode) killAgent() {
	n.t.Helper()
	_ = n.agent.Process.Signal(syscall.SIGKILL)
	select {
	case <-n.waitErr:
	case <-time.After(10 * time.Second):
		n.t.Fatal("agent did not die on SIGKILL")
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func (n *e2eNode) log() string { return n.agentLog.String() }

func (n *e2eNode) waitHealthy() {
	n.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := n.api().Get("http://agent/v1/healthz")
		var body []byte
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-n.waitErr:
			n.t.Fatalf("agent exited: %v\n%s", err, n.log())
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("agent not healthy within 60s (last error %v): %s\n%s", err, body, n.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *e2eNode) stopAgent() {
	if n.agent == nil || n.agent.ProcessState != nil {
		return
	}
	_ = n.agent.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.waitErr:
	case <-time.After(20 * time.Second):
		_ = n.agent.Process.Kill()
		n.t.Errorf("agent did not stop on SIGTERM")
	}
}

func (n *e2eNode) api() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", n.sock)
		},
	}}
}

func (n *e2eNode) getJSON(path string, v any) error {
	resp, err := n.api().Get("http://agent" + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func (n *e2eNode) cli(args ...string) string {
	n.t.Helper()
	out, err := exec.Command(cliBin, append([]string{"--socket", n.sock}, args...)...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("hivenet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (n *e2eNode) addPod(name string) *e2ePod {
	n.t.Helper()
	p := &e2ePod{name: name, netns: n.prefix + "-" + name, containerID: "ctr-" + name + "-" + n.prefix}
	run(n.t, "ip", "netns", "add", p.netns)
	n.t.Cleanup(func() { exec.Command("ip", "netns", "del", p.netns).Run() })
	conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"hivenet","type":"hivenet-cni","socket-path":%q}`, n.sock)
	cmd := exec.Command(cniBin)
	cmd.Env = append(os.Environ(),
		"CNI_COMMAND=ADD", "CNI_CONTAINERID="+p.containerID, "CNI_NETNS=/var/run/netns/"+p.netns,
		"CNI_IFNAME=eth0", "CNI_PATH="+binDir, "CNI_ARGS=K8S_POD_NAMESPACE=default;K8S_POD_NAME="+name)
	cmd.Stdin = strings.NewReader(conf)
	out, err := cmd.Output()
	if err != nil {
		n.t.Fatalf("CNI ADD %s: %v\n%s\nagent log:\n%s", name, err, out, n.log())
	}
	var res current.Result
	if err := json.Unmarshal(out, &res); err != nil || len(res.IPs) != 1 {
		n.t.Fatalf("CNI ADD %s: result %s: %v", name, out, err)
	}
	p.ip, _ = netip.AddrFromSlice(res.IPs[0].Address.IP.To4())
	return p
}

// inNetns runs f on a thread in the named namespace; sockets f creates
// stay there.
func inNetns(t testing.TB, name string, f func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		ns, err := netns.GetFromName(name)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	if err := <-errc; err != nil {
		t.Fatalf("in netns %s: %v", name, err)
	}
}

// serveName answers every TCP connection on addr in ns with
// "<name> <peer>\n" and closes it.
func serveName(t testing.TB, ns string, addr netip.AddrPort, name string) {
	var ln net.Listener
	inNetns(t, ns, func() (err error) { ln, err = net.Listen("tcp4", addr.String()); return })
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s %s\n", name, c.RemoteAddr())
			c.Close()
		}
	}()
}

// serveUDPEcho echoes datagrams on addr in ns.
func serveUDPEcho(t testing.TB, ns string, addr netip.AddrPort) {
	var pc net.PacketConn
	inNetns(t, ns, func() (err error) { pc, err = net.ListenPacket("udp4", addr.String()); return })
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:k], from)
		}
	}()
}

// askName connects from ns (the host's namespace if ns is "") to dst and
// returns the server's name, the peer it saw, and the client's view of
// the remote address.
func askName(t testing.TB, ns string, dst netip.AddrPort) (name, peer, remote string, err error) {
	var c net.Conn
	dial := func() error {
		c, err = net.DialTimeout("tcp4", dst.String(), 3*time.Second)
		return nil
	}
	if ns == "" {
		dial()
	} else {
		inNetns(t, ns, dial)
	}
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
