package main

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
	"strings"
	"syscall"
	"testing"
	"time"

	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"

	"github.com/hivenet/hivenet/test/netnstest"
	"github.com/hivenet/hivenet/test/testbin"
)

// The harness plays a node and a kubelet: the node is a network namespace
// running a real hivenet-agent process; pods are namespaces wired by running
// the real hivenet-cni binary with CNI_* variables and the network config on
// stdin; "outside" is a namespace joined to the node by a veth, standing for
// the rest of the network. Every name starts with hvcni-.

var (
	binDir           string
	agentBin, cniBin string
	cliBin           string
)

func buildBinaries(t *testing.T) {
	t.Helper()
	binDir = testbin.Build(t, "hivenet-agent", "hivenet-cni", "hivenet")
	agentBin = filepath.Join(binDir, "hivenet-agent")
	cniBin = filepath.Join(binDir, "hivenet-cni")
	cliBin = filepath.Join(binDir, "hivenet")
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

type node struct {
	t        *testing.T
	prefix   string
	netns    string // node namespace name
	outside  string // outside namespace name
	dir      string
	sock     string
	bpfRoot  string
	podRange netip.Prefix
	nodeIP   netip.Addr // on the node's link to the outside
	outIP    netip.Addr // the outside host
	args     []string
	agent    *exec.Cmd
	agentLog *bytes.Buffer
	waitErr  chan error
}

type pod struct {
	name        string
	netns       string
	containerID string
	ip          netip.Addr
	result      *current.Result
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// newNode creates the node and outside namespaces and starts an agent.
func newNode(t *testing.T, extraArgs ...string) *node {
	t.Helper()
	buildBinaries(t)
	p := "hvcni-" + randHex(3)
	octet := int(p[len(p)-1]) % 200
	n := &node{
		t: t, prefix: p, netns: p + "-node", outside: p + "-out",
		dir:      t.TempDir(),
		bpfRoot:  "/sys/fs/bpf/" + p,
		podRange: netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/24", 100+octet/4)),
		nodeIP:   netip.MustParseAddr("192.168.177.1"),
		outIP:    netip.MustParseAddr("192.168.177.2"),
	}
	n.sock = filepath.Join(n.dir, "agent.sock")
	run(t, "ip", "netns", "add", n.netns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.netns).Run() })
	run(t, "ip", "netns", "add", n.outside)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.outside).Run() })
	t.Cleanup(func() { os.RemoveAll(n.bpfRoot) })
	run(t, "ip", "-n", n.netns, "link", "set", "lo", "up")
	run(t, "ip", "-n", n.outside, "link", "set", "lo", "up")
	run(t, "ip", "-n", n.netns, "link", "add", "ext0", "type", "veth", "peer", "name", "eth0", "netns", n.outside)
	run(t, "ip", "-n", n.netns, "addr", "add", n.nodeIP.String()+"/24", "dev", "ext0")
	run(t, "ip", "-n", n.netns, "link", "set", "ext0", "up")
	run(t, "ip", "-n", n.outside, "addr", "add", n.outIP.String()+"/24", "dev", "eth0")
	run(t, "ip", "-n", n.outside, "link", "set", "eth0", "up")
	n.args = append([]string{
		"--socket-path", n.sock,
		"--state-dir", filepath.Join(n.dir, "state"),
		"--bpf-root", n.bpfRoot,
		"--ipv4-range", n.podRange.String(),
		"--write-cni-conf-when-ready", filepath.Join(n.dir, "net.d", "05-hivenet.conflist"),
		// A node without an API server: the runtime calls the plugin directly.
		"--enable-k8s=false",
	}, extraArgs...)
	n.startAgent()
	t.Cleanup(n.stopAgent)
	return n
}

func (n *node) startAgent() {
	n.t.Helper()
	n.agentLog = &bytes.Buffer{}
	// nsenter, not `ip netns exec`: the latter also gives the agent a
	// private mount namespace with its own /sys, so its bpffs pins would die
	// with it and a restart would not find them.
	n.agent = exec.Command("nsenter", append([]string{"--net=/var/run/netns/" + n.netns, "--", agentBin}, n.args...)...)
	n.agent.Stdout, n.agent.Stderr = n.agentLog, n.agentLog
	if err := n.agent.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.waitErr = make(chan error, 1)
	go func(c *exec.Cmd, ch chan error) { ch <- c.Wait() }(n.agent, n.waitErr)
	n.waitHealthy()
}

func (n *node) waitHealthy() {
	n.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := n.api().Get("http://agent/v1/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-n.waitErr:
			n.t.Fatalf("agent exited: %v\n%s", err, n.agentLog.String())
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("agent not healthy within 60s (last error %v)\n%s", err, n.agentLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killAgent kills the agent with SIGKILL, as a crash or an OOM kill would.
func (n *node) killAgent() {
	n.t.Helper()
	// nsenter execs the agent, so the pid is the agent's.
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
		n.t.Errorf("agent did not stop on SIGTERM:\n%s", n.agentLog.String())
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
func table[T any](n *node, name string) []T {
	n.t.Helper()
	resp, err := n.api().Get("http://agent/v1/db/" + name + "?format=json")
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	var rows []T
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		n.t.Fatalf("decode table %s: %v", name, err)
	}
	return rows
}

// cli runs the hivenet CLI against this node's agent.
func (n *node) cli(args ...string) string {
	n.t.Helper()
	out, err := exec.Command(cliBin, append([]string{"--socket", n.sock}, args...)...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("hivenet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// cni runs the hivenet-cni binary exactly as a kubelet's runtime would.
func (n *node) cni(command, containerID, netnsPath, ifName, args string) (stdout []byte, err error) {
	conf := fmt.Sprintf(`{"cniVersion":"1.1.0","name":"hivenet","type":"hivenet-cni","socket-path":%q}`, n.sock)
	cmd := exec.Command(cniBin)
	cmd.Env = append(os.Environ(),
		"CNI_COMMAND="+command, "CNI_CONTAINERID="+containerID, "CNI_NETNS="+netnsPath,
		"CNI_IFNAME="+ifName, "CNI_PATH="+binDir, "CNI_ARGS="+args)
	cmd.Stdin = strings.NewReader(conf)
	var out bytes.Buffer
	cmd.Stdout = &out
	err = cmd.Run()
	return out.Bytes(), err
}

func (n *node) addPod(name string) *pod {
	n.t.Helper()
	p := &pod{name: name, netns: n.prefix + "-" + name, containerID: "ctr-" + name + "-" + randHex(4)}
	run(n.t, "ip", "netns", "add", p.netns)
	n.t.Cleanup(func() { exec.Command("ip", "netns", "del", p.netns).Run() })
	out, err := n.cni("ADD", p.containerID, "/var/run/netns/"+p.netns, "eth0", "K8S_POD_NAMESPACE=default;K8S_POD_NAME="+name)
	if err != nil {
		n.t.Fatalf("CNI ADD %s: %v\n%s\nagent log:\n%s", name, err, out, n.agentLog.String())
	}
	p.result = &current.Result{}
	if err := json.Unmarshal(out, p.result); err != nil {
		n.t.Fatalf("CNI ADD %s: result is not CNI JSON: %v\n%s", name, err, out)
	}
	if len(p.result.IPs) != 1 {
		n.t.Fatalf("CNI ADD %s: %d IPs in result", name, len(p.result.IPs))
	}
	p.ip, _ = netip.AddrFromSlice(p.result.IPs[0].Address.IP.To4())
	return p
}

func (n *node) delPod(p *pod) {
	n.t.Helper()
	if out, err := n.cni("DEL", p.containerID, "/var/run/netns/"+p.netns, "eth0", ""); err != nil {
		n.t.Fatalf("CNI DEL %s: %v\n%s", p.name, err, out)
	}
}

// The namespace and traffic helpers are shared with the other suites.
var (
	inNetns   = netnstest.InNetns
	listenTCP = netnstest.ListenTCP
	dialTCP   = netnstest.DialTCP
	serveEcho = netnstest.ServeEcho
	roundTrip = netnstest.RoundTrip
)

func linkExists(t *testing.T, ns, name string) bool {
	t.Helper()
	found := false
	inNetns(t, ns, func() error {
		_, err := netlink.LinkByName(name)
		found = err == nil
		return nil
	})
	return found
}
