package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node is one node of the box.
type Node struct {
	c *Cluster
	// Name is the Kubernetes node name.
	Name string
	// Netns is the node's network namespace; IP its address on the bridge.
	Netns string
	IP    netip.Addr
	// PodCIDR is what the controller-manager allocated.
	PodCIDR netip.Prefix
	// Socket is the agent's API socket; BPFRoot its bpffs root.
	Socket  string
	BPFRoot string
	dir     string

	agent  *proc
	runner *podRunner
}

func (n *Node) logPath() string { return filepath.Join(n.dir, "agent.log") }

// Conflist is where the agent writes the CNI configuration when ready.
func (n *Node) Conflist() string { return filepath.Join(n.dir, "net.d", "05-hivenet.conflist") }

func (c *Cluster) addNode(ctx context.Context, i int) (_ *Node, err error) {
	n := &Node{
		c:       c,
		Name:    fmt.Sprintf("%s-node-%d", c.cfg.Name, i),
		Netns:   fmt.Sprintf("%s-n%d", c.cfg.Name, i),
		IP:      c.net.addr(byte(10 + i)),
		BPFRoot: fmt.Sprintf("/sys/fs/bpf/%s-n%d", c.cfg.Name, i),
		dir:     filepath.Join(c.cfg.Dir, "nodes", fmt.Sprintf("node-%d", i)),
	}
	n.Socket = filepath.Join(n.dir, "hivenet.sock")
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			n.stopAgent()
			removeNetns(n.Netns)
			_ = os.RemoveAll(n.BPFRoot)
		}
	}()
	if err := c.net.addHost(n.Netns, fmt.Sprintf("%s-n%d", c.cfg.Name, i), n.IP); err != nil {
		return nil, err
	}
	if err := n.register(ctx); err != nil {
		return nil, err
	}
	if err := n.StartAgent(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// register creates the Node object as a kubelet would and waits for the
// controller-manager to allocate its pod CIDR.
func (n *Node) register(ctx context.Context) error {
	nodes := n.c.Client.CoreV1().Nodes()
	obj := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: map[string]string{
			"kubernetes.io/hostname": n.Name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		}},
	}
	created, err := nodes.Create(ctx, obj, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("register node %s: %w", n.Name, err)
	}
	_ = created
	// The controller-manager writes the node too (pod CIDR), so the status
	// update retries on conflicts with a fresh copy.
	err = waitFor(ctx, 30*time.Second, "status of node "+n.Name, func() error {
		cur, err := nodes.Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.Addresses = []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.IP.String()},
			{Type: corev1.NodeHostName, Address: n.Name},
		}
		cur.Status.NodeInfo = corev1.NodeSystemInfo{KubeletVersion: "v1.34.4", OperatingSystem: "linux", Architecture: "amd64", ContainerRuntimeVersion: "hivenet-box://1"}
		cur.Status.Capacity = corev1.ResourceList{corev1.ResourcePods: resourceQuantity("110")}
		cur.Status.Allocatable = cur.Status.Capacity
		_, err = nodes.UpdateStatus(ctx, nodeReady(cur), metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("node %s status: %w", n.Name, err)
	}
	return waitFor(ctx, 60*time.Second, "pod CIDR of "+n.Name, func() error {
		got, err := nodes.Get(ctx, n.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Spec.PodCIDR == "" {
			return errors.New("not allocated yet")
		}
		n.PodCIDR, err = netip.ParsePrefix(got.Spec.PodCIDR)
		return err
	})
}

// AgentArgs are the flags the node's agent runs with.
func (n *Node) AgentArgs() []string {
	return append([]string{
		"--k8s-kubeconfig-path", n.c.Kubeconfig,
		"--k8s-node-name", n.Name,
		"--socket-path", n.Socket,
		"--state-dir", filepath.Join(n.dir, "state"),
		"--bpf-root", n.BPFRoot,
		"--ipv4-native-routing-cidr", "10.244.0.0/16",
		"--write-cni-conf-when-ready", n.Conflist(),
		// Room for the VXLAN header of the default tunnel routing mode.
		"--mtu", "1450",
	}, n.c.cfg.AgentArgs...)
}

// StartAgent starts the node's agent in the node's network namespace and
// waits until it is healthy. nsenter rather than `ip netns exec`: the latter
// would give the agent a private mount namespace, and its bpffs pins (which
// keep programs attached across restarts) would die with it.
func (n *Node) StartAgent(ctx context.Context) error {
	cmd := exec.Command("nsenter", append([]string{"--net=/var/run/netns/" + n.Netns, "--",
		filepath.Join(n.c.cfg.BinDir, "hivenet-agent")}, n.AgentArgs()...)...)
	var err error
	if n.agent, err = n.c.spawn.startProc(cmd, n.logPath()); err != nil {
		return err
	}
	return waitFor(ctx, 90*time.Second, "agent on "+n.Name+" healthy", func() error {
		if n.agent.exited() {
			return errStop(fmt.Errorf("agent on %s exited; see %s", n.Name, n.logPath()))
		}
		return unixHTTPOK(n.Socket, "/v1/healthz")
	})
}

// KillAgent kills the agent with SIGKILL, as a crash would.
func (n *Node) KillAgent() { n.agent.kill() }

func (n *Node) stopAgent() {
	if n.agent != nil {
		_ = n.agent.stop(20 * time.Second)
	}
}

// stopError marks an error that ends waitFor at once.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }
func (e stopError) Unwrap() error { return e.err }

func errStop(err error) error { return stopError{err} }

// waitFor polls cond until it returns nil, it returns an errStop, ctx ends
// or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		var stop stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s: %w", timeout, what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func httpOK(url string) error {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

func unixHTTPOK(socket, path string) error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	resp, err := hc.Get("http://agent" + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("agent %s: %s: %s", path, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

func freeTCPPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
