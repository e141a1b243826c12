package nodes

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
	corev1 "k8s.io/api/core/v1"
	apiextensionsclientset "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/cells/k8s/crds"
	"github.com/hivenet/hivenet/test/box"
	"github.com/hivenet/hivenet/test/netnstest"
	"github.com/hivenet/hivenet/test/testbin"
)

var (
	binDir           string
	agentBin, cniBin string
)

func buildBinaries(t *testing.T) {
	t.Helper()
	binDir = testbin.Build(t, "hivenet-agent", "hivenet-cni")
	agentBin = filepath.Join(binDir, "hivenet-agent")
	cniBin = filepath.Join(binDir, "hivenet-cni")
}

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// clusterCIDR is what box's controller-manager carves node pod CIDRs from.
const clusterCIDR = "10.244.0.0/16"

// cluster is a control plane and the bridge its nodes share. The API server
// listens on the bridge's host address so that agents in node namespaces
// reach it as they would a control-plane machine on the same rack.
type cluster struct {
	t       *testing.T
	prefix  string
	bridge  string
	subnet  netip.Prefix
	hostIP  netip.Addr
	cp      *box.ControlPlane
	kube    kubernetes.Interface
	cilium  *client.Cilium
	mode    string
	nextIdx int
	// cpThread starts the control-plane processes; see pinnedThread.
	cpThread *pinnedThread
}

// pinnedThread runs functions on one OS thread that outlives the control
// plane. box starts its components with Pdeathsig, which the kernel sends
// when the forking *thread* exits; the Go runtime destroys a thread when a
// goroutine that locked it (as inNetns does) exits, and any thread may have
// forked a component, so without this the API server would be SIGKILLed at
// random while pods' goroutines come and go.
type pinnedThread struct {
	work chan func()
	done chan struct{}
}

func newPinnedThread(t *testing.T) *pinnedThread {
	pt := &pinnedThread{work: make(chan func()), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for f := range pt.work {
			f()
		}
		close(pt.done)
	}()
	// Registered before the control plane's Stop, so it runs after it.
	t.Cleanup(func() { close(pt.work); <-pt.done })
	return pt
}

// do runs f on the pinned thread and waits for it.
func (pt *pinnedThread) do(f func()) {
	ran := make(chan struct{})
	pt.work <- func() { defer close(ran); f() }
	<-ran
}

// startAPIServer restarts the API server after StopAPIServer.
func (c *cluster) startAPIServer(ctx context.Context) error {
	var err error
	c.cpThread.do(func() { err = c.cp.StartAPIServer(ctx) })
	return err
}

func newCluster(t *testing.T, ctx context.Context, routingMode string) *cluster {
	t.Helper()
	buildBinaries(t)
	p := "hvnd-" + randHex(3)
	b := make([]byte, 1)
	_, _ = rand.Read(b)
	subnet := netip.MustParsePrefix(fmt.Sprintf("172.30.%d.0/24", b[0]))
	c := &cluster{t: t, prefix: p, bridge: p, subnet: subnet, hostIP: subnet.Addr().Next(), mode: routingMode}
	run(t, "ip", "link", "add", c.bridge, "type", "bridge")
	t.Cleanup(func() { exec.Command("ip", "link", "del", c.bridge).Run() })
	run(t, "ip", "addr", "add", c.hostIP.String()+"/24", "dev", c.bridge)
	run(t, "ip", "link", "set", c.bridge, "up")

	c.cpThread = newPinnedThread(t)
	start := time.Now()
	var cp *box.ControlPlane
	var err error
	c.cpThread.do(func() {
		cp, err = box.Start(ctx, box.Config{BindAddress: c.hostIP.String(), ClusterCIDR: clusterCIDR})
	})
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(cp.Stop)
	t.Logf("control plane up in %s at %s", time.Since(start).Round(time.Millisecond), cp.URL)
	c.cp = cp
	if c.kube, err = kubernetes.NewForConfig(cp.RESTConfig()); err != nil {
		t.Fatal(err)
	}
	if c.cilium, err = client.NewCilium(cp.RESTConfig()); err != nil {
		t.Fatal(err)
	}
	ext, err := apiextensionsclientset.NewForConfig(cp.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	// The operator's job in a real install.
	if err := crds.Register(ctx, ext, nil); err != nil {
		t.Fatalf("register CRDs: %v", err)
	}
	return c
}

// node is a network namespace on the bridge running a hivenet-agent.
type node struct {
	c        *cluster
	t        *testing.T
	name     string // Node object and namespace name
	ip       netip.Addr
	dir      string
	sock     string
	bpfRoot  string
	podCIDR  netip.Prefix
	args     []string
	agent    *exec.Cmd
	agentLog *syncBuffer
	waitErr  chan error
}

// syncBuffer is a log buffer the agent writes while tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// addNetns creates a node namespace on the bridge with the next address.
func (c *cluster) addNetns() (name string, ip netip.Addr) {
	t := c.t
	t.Helper()
	c.nextIdx++
	name = fmt.Sprintf("%s-n%d", c.prefix, c.nextIdx)
	ip = c.subnet.Addr()
	for range 10 + c.nextIdx {
		ip = ip.Next()
	}
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", name)
	t.Cleanup(func() { exec.Command("ip", "link", "del", name).Run() })
	run(t, "ip", "link", "set", name, "master", c.bridge, "up")
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	run(t, "ip", "-n", name, "addr", "add", ip.String()+"/24", "dev", "eth0")
	run(t, "ip", "-n", name, "link", "set", "eth0", "up")
	return name, ip
}

// registerNode creates the Node object as a kubelet does (addresses, Ready)
// and waits for the controller-manager to give it a pod CIDR.
func (c *cluster) registerNode(ctx context.Context, name string, ip netip.Addr) netip.Prefix {
	t := c.t
	t.Helper()
	n, err := c.kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: name, Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	now := metav1.Now()
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err = c.kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		c.setKubeletStatus(n, ip, now)
		_, err = c.kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("update node %s status: %v", name, err)
	}
	var cidr netip.Prefix
	waitFor(t, 60*time.Second, "pod CIDR of node "+name, func() error {
		n, err := c.kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Spec.PodCIDR == "" {
			return fmt.Errorf("no spec.podCIDR yet")
		}
		cidr, err = netip.ParsePrefix(n.Spec.PodCIDR)
		return err
	})
	return cidr
}

// setKubeletStatus sets what a kubelet reports: its addresses, Ready.
func (c *cluster) setKubeletStatus(n *corev1.Node, ip netip.Addr, now metav1.Time) {
	n.Status.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: ip.String()},
		{Type: corev1.NodeHostName, Address: n.Name},
	}
	n.Status.Conditions = []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		Message: "hivenet test kubelet", LastHeartbeatTime: now, LastTransitionTime: now,
	}}
}

// addNode makes a node: namespace, Node object, agent.
func (c *cluster) addNode(ctx context.Context, extraArgs ...string) *node {
	c.t.Helper()
	n := c.newNode(extraArgs...)
	n.podCIDR = c.registerNode(ctx, n.name, n.ip)
	n.startAgent()
	return n
}

// newNode makes the namespace of a node and its agent's arguments.
func (c *cluster) newNode(extraArgs ...string) *node {
	t := c.t
	t.Helper()
	name, ip := c.addNetns()
	n := &node{c: c, t: t, name: name, ip: ip, dir: t.TempDir(), bpfRoot: "/sys/fs/bpf/" + name}
	n.sock = filepath.Join(n.dir, "agent.sock")
	t.Cleanup(func() { os.RemoveAll(n.bpfRoot) })
	n.args = append([]string{
		"--socket-path", n.sock,
		"--state-dir", filepath.Join(n.dir, "state"),
		"--bpf-root", n.bpfRoot,
		"--k8s-kubeconfig-path", c.cp.Kubeconfig,
		"--k8s-node-name", name,
		"--routing-mode", c.mode,
		"--ipv4-native-routing-cidr", clusterCIDR,
	}, extraArgs...)
	if c.mode == "tunnel" {
		// The VXLAN header takes 50 bytes of the bridge's 1500.
		n.args = append(n.args, "--mtu", "1450")
	}
	t.Cleanup(n.stopAgent)
	return n
}

func (n *node) startAgent() {
	n.t.Helper()
	n.spawnAgent()
	n.waitHealthy()
}

// spawnAgent starts the agent process without waiting for it.
func (n *node) spawnAgent() {
	n.t.Helper()
	n.agentLog = &syncBuffer{}
	// nsenter, not `ip netns exec`: the latter gives the agent a private
	// mount namespace whose bpffs pins would die with it.
	n.agent = exec.Command("nsenter", append([]string{"--net=/var/run/netns/" + n.name, "--", agentBin}, n.args...)...)
	n.agent.Stdout, n.agent.Stderr = n.agentLog, n.agentLog
	if err := n.agent.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.waitErr = make(chan error, 1)
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(n.agent, n.waitErr)
}

func (n *node) waitHealthy() {
	n.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := n.api().Get("http://agent/v1/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("healthz: %s", resp.Status)
		}
		select {
		case err := <-n.waitErr:
			n.t.Fatalf("agent %s exited: %v\n%s", n.name, err, n.agentLog)
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("agent %s not healthy within 90s (last: %v)\nstatus: %s\n%s", n.name, err, n.status(), n.agentLog)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitServing waits until the agent answers on its API socket, healthy or
// not (without the API server, its Kubernetes watchers are not).
func (n *node) waitServing() {
	n.t.Helper()
	waitFor(n.t, 60*time.Second, "agent "+n.name+" serving", func() error {
		select {
		case err := <-n.waitErr:
			n.t.Fatalf("agent %s exited: %v\n%s", n.name, err, n.agentLog)
		default:
		}
		resp, err := n.api().Get("http://agent/v1/status")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

// status is the agent's /v1/status, for failure messages.
func (n *node) status() string {
	resp, err := n.api().Get("http://agent/v1/status")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return b.String()
}

// killAgent kills the agent with SIGKILL, as a crash or an OOM kill would.
func (n *node) killAgent() {
	n.t.Helper()
	_ = n.agent.Process.Signal(syscall.SIGKILL)
	select {
	case <-n.waitErr:
	case <-time.After(10 * time.Second):
		n.t.Fatal("agent did not die on SIGKILL")
	}
}

func (n *node) stopAgent() {
	if n.agent == nil || n.agent.ProcessState != nil {
		return
	}
	_ = n.agent.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.waitErr:
	case <-time.After(20 * time.Second):
		_ = n.agent.Process.Kill()
		<-n.waitErr
		n.t.Errorf("agent %s did not stop on SIGTERM:\n%s", n.name, n.agentLog)
	}
}

func (n *node) api() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", n.sock)
		},
	}}
}

// table returns the rows of a statedb table from the agent's API.
func table[T any](n *node, name string) ([]T, error) {
	resp, err := n.api().Get("http://agent/v1/db/" + name + "?format=json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var rows []T
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		return nil, fmt.Errorf("decode table %s: %w", name, err)
	}
	return rows, nil
}

// kernelRoutes lists hivenet's routes (protocol 211) in the node.
func (n *node) kernelRoutes() string {
	n.t.Helper()
	return run(n.t, "ip", "-n", n.name, "-4", "route", "show", "proto", "211")
}

type pod struct {
	name        string
	netns       string
	containerID string
	ip          netip.Addr
}

// cni runs the hivenet-cni binary exactly as a kubelet's runtime would.
func (n *node) cni(command, containerID, netnsPath, args string) ([]byte, error) {
	conf := fmt.Sprintf(`{"cniVersion":"1.0.0","name":"hivenet","type":"hivenet-cni","socket-path":%q}`, n.sock)
	cmd := exec.Command(cniBin)
	cmd.Env = append(os.Environ(),
		"CNI_COMMAND="+command, "CNI_CONTAINERID="+containerID, "CNI_NETNS="+netnsPath,
		"CNI_IFNAME=eth0", "CNI_PATH="+binDir, "CNI_ARGS="+args)
	cmd.Stdin = strings.NewReader(conf)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	return out.Bytes(), err
}

func (n *node) addPod(name string) *pod {
	n.t.Helper()
	p := &pod{name: name, netns: n.name + "-" + name, containerID: "ctr-" + name + "-" + randHex(4)}
	run(n.t, "ip", "netns", "add", p.netns)
	n.t.Cleanup(func() { exec.Command("ip", "netns", "del", p.netns).Run() })
	out, err := n.cni("ADD", p.containerID, "/var/run/netns/"+p.netns, "K8S_POD_NAMESPACE=default;K8S_POD_NAME="+name)
	if err != nil {
		n.t.Fatalf("CNI ADD %s on %s: %v\n%s\nagent log:\n%s", name, n.name, err, out, n.agentLog)
	}
	res := &current.Result{}
	if err := json.Unmarshal(out, res); err != nil || len(res.IPs) != 1 {
		n.t.Fatalf("CNI ADD %s: bad result (%v): %s", name, err, out)
	}
	p.ip, _ = netip.AddrFromSlice(res.IPs[0].Address.IP.To4())
	n.t.Cleanup(func() { n.cni("DEL", p.containerID, "/var/run/netns/"+p.netns, "") })
	return p
}

// The namespace and traffic helpers are shared with the other suites.
var (
	inNetns   = netnstest.InNetns
	listenTCP = netnstest.ListenTCP
	dialTCP   = netnstest.DialTCP
	serveEcho = netnstest.ServeEcho
	roundTrip = netnstest.RoundTrip
)

// waitFor polls cond until it returns nil or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
