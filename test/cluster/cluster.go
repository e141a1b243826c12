package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hivenet/hivenet/test/box"
)

// Config says what cluster to build.
type Config struct {
	// Name prefixes every namespace, link, bpffs root and node name; it
	// must be short (at most 8 characters) so interface names fit. Default "hvbox".
	Name string
	// Nodes is the number of nodes. Default 2.
	Nodes int
	// Dir holds everything the cluster writes: control-plane data and logs,
	// agent state and logs, pod logs, the kubeconfig. Required.
	Dir string
	// Subnet is the bridge's /24. Default 192.168.200.0/24.
	Subnet string
	// BinDir holds hivenet-agent, hivenet-operator, hivenet-cni, hivenet and
	// hivenet-box. Required.
	BinDir string
	// K8sBinDir holds the Kubernetes binaries; default box.DefaultBinDir().
	K8sBinDir string
	// AgentArgs are extra flags for every agent.
	AgentArgs []string
	// Log receives the box's own log lines; default discards them.
	Log *slog.Logger
}

// Cluster is a running cluster-in-a-box.
type Cluster struct {
	cfg Config
	net network
	log *slog.Logger

	// CP is the control plane; Client an admin client of it.
	CP     *box.ControlPlane
	Client kubernetes.Interface
	// Nodes are the nodes, in order.
	Nodes []*Node
	// ClientNetns is the outside client's network namespace and ClientIP its address.
	ClientNetns string
	ClientIP    netip.Addr
	// Kubeconfig is an admin kubeconfig (a copy in Dir).
	Kubeconfig string

	operator *proc
	dns      *dnsServer
	spawn    *spawner

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (c *Config) defaults() error {
	if c.Name == "" {
		c.Name = "hvbox"
	}
	if len(c.Name) > 8 {
		return fmt.Errorf("cluster name %q: at most 8 characters", c.Name)
	}
	if c.Nodes == 0 {
		c.Nodes = 2
	}
	if c.Dir == "" || c.BinDir == "" {
		return errors.New("cluster: Dir and BinDir are required")
	}
	if c.Subnet == "" {
		c.Subnet = "192.168.200.0/24"
	}
	if c.K8sBinDir == "" {
		c.K8sBinDir = box.DefaultBinDir()
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	for _, b := range []string{"hivenet-agent", "hivenet-operator", "hivenet-cni", "hivenet", "hivenet-box"} {
		if _, err := os.Stat(filepath.Join(c.BinDir, b)); err != nil {
			return fmt.Errorf("cluster: %s missing in %s (make build): %w", b, c.BinDir, err)
		}
	}
	return nil
}

// Up builds the cluster and returns when every node's agent is healthy. On
// error everything already created is torn down.
func Up(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	subnet, err := netip.ParsePrefix(cfg.Subnet)
	if err != nil || subnet.Bits() != 24 || !subnet.Addr().Is4() {
		return nil, fmt.Errorf("cluster subnet %q: want an IPv4 /24", cfg.Subnet)
	}
	subnet = subnet.Masked()
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	c = &Cluster{cfg: cfg, log: cfg.Log, spawn: newSpawner()}
	c.net = network{bridge: cfg.Name + "-br", subnet: subnet}
	c.net.gateway = c.net.addr(1)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	built := c // "return nil, err" clears c before deferred functions run
	defer func() {
		if err != nil {
			built.Down()
		}
	}()

	t0 := time.Now()
	if err := c.net.create(); err != nil {
		return nil, err
	}
	// Every cluster starts empty: etcd data, pod logs and agent state of an
	// earlier run in the same directory would describe pods that no longer
	// exist.
	for _, sub := range []string{"k8s", "nodes", "pods"} {
		if err := os.RemoveAll(filepath.Join(cfg.Dir, sub)); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "k8s"), 0o755); err != nil {
		return nil, err
	}
	c.spawn.do(func() {
		c.CP, err = box.Start(ctx, box.Config{
			BinDir:      cfg.K8sBinDir,
			Dir:         filepath.Join(cfg.Dir, "k8s"),
			BindAddress: c.net.gateway.String(),
		})
	})
	if err != nil {
		return nil, err
	}
	c.log.Info("Control plane up", "url", c.CP.URL, "took", time.Since(t0).Round(time.Millisecond))
	c.Kubeconfig = filepath.Join(cfg.Dir, "kubeconfig")
	if b, err := os.ReadFile(c.CP.Kubeconfig); err != nil {
		return nil, err
	} else if err := os.WriteFile(c.Kubeconfig, b, 0o600); err != nil {
		return nil, err
	}
	if c.Client, err = kubernetes.NewForConfig(c.CP.RESTConfig()); err != nil {
		return nil, err
	}

	if err := c.startOperator(ctx); err != nil {
		return nil, err
	}
	for i := range cfg.Nodes {
		n, err := c.addNode(ctx, i+1)
		if err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	c.ClientNetns = cfg.Name + "-client"
	c.ClientIP = c.net.addr(100)
	if err := c.net.addHost(c.ClientNetns, cfg.Name+"-cl", c.ClientIP); err != nil {
		return nil, err
	}
	if c.dns, err = startDNS(c.ctx, c.net.gateway, c.Client, c.log); err != nil {
		return nil, err
	}
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.schedule(c.ctx) }()
	for _, n := range c.Nodes {
		n.runner = newPodRunner(c, n)
		c.wg.Add(1)
		go func() { defer c.wg.Done(); n.runner.run(c.ctx) }()
	}
	if err := c.writeState(); err != nil {
		return nil, err
	}
	c.log.Info("Cluster up", "nodes", len(c.Nodes), "took", time.Since(t0).Round(time.Millisecond))
	return c, nil
}

// Dir is where the cluster keeps its state, logs and kubeconfig.
func (c *Cluster) Dir() string { return c.cfg.Dir }

// Down stops everything Up started and removes every namespace, link and
// bpffs root, in reverse order. It is safe on a partly built cluster.
func (c *Cluster) Down() {
	if c.cancel != nil {
		c.cancel()
	}
	for _, n := range c.Nodes {
		if n.runner != nil {
			n.runner.teardownAll()
		}
	}
	c.wg.Wait()
	if c.dns != nil {
		c.dns.close()
	}
	for _, n := range c.Nodes {
		n.stopAgent()
		removeNetns(n.Netns)
		_ = os.RemoveAll(n.BPFRoot)
	}
	if c.ClientNetns != "" {
		removeNetns(c.ClientNetns)
	}
	if c.operator != nil {
		_ = c.operator.stop(10 * time.Second)
	}
	if c.CP != nil {
		c.CP.Stop()
	}
	c.net.destroy()
	if c.spawn != nil {
		c.spawn.stop()
		c.spawn = nil
	}
}

func (c *Cluster) startOperator(ctx context.Context) error {
	port, err := freeTCPPort()
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(c.cfg.BinDir, "hivenet-operator"),
		"--k8s-kubeconfig-path", c.Kubeconfig,
		"--api-serve-addr", fmt.Sprintf("127.0.0.1:%d", port))
	c.operator, err = c.spawn.startProc(cmd, filepath.Join(c.cfg.Dir, "operator.log"))
	if err != nil {
		return err
	}
	return waitFor(ctx, 90*time.Second, "operator healthy", func() error {
		if c.operator.exited() {
			return errStop(fmt.Errorf("operator exited; see %s", filepath.Join(c.cfg.Dir, "operator.log")))
		}
		return httpOK(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	})
}

// State is what `hivenet-box` commands read to find a running cluster.
type State struct {
	Name       string            `json:"name"`
	Kubeconfig string            `json:"kubeconfig"`
	APIServer  string            `json:"apiServer"`
	Nodes      []NodeState       `json:"nodes"`
	Client     string            `json:"clientNetns"`
	ClientIP   string            `json:"clientIP"`
	Gateway    string            `json:"gateway"`
	PodNetns   map[string]string `json:"-"`
}

// NodeState describes a node for `hivenet-box status`.
type NodeState struct {
	Name    string `json:"name"`
	Netns   string `json:"netns"`
	IP      string `json:"ip"`
	PodCIDR string `json:"podCIDR"`
	Socket  string `json:"socket"`
	Log     string `json:"log"`
}

func (c *Cluster) writeState() error {
	st := State{Name: c.cfg.Name, Kubeconfig: c.Kubeconfig, APIServer: c.CP.URL, Client: c.ClientNetns, ClientIP: c.ClientIP.String(), Gateway: c.net.gateway.String()}
	for _, n := range c.Nodes {
		st.Nodes = append(st.Nodes, NodeState{Name: n.Name, Netns: n.Netns, IP: n.IP.String(), PodCIDR: n.PodCIDR.String(), Socket: n.Socket, Log: n.logPath()})
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	return os.WriteFile(filepath.Join(c.cfg.Dir, "state.json"), b, 0o644)
}

// ReadState reads the state of the cluster running in dir.
func ReadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return nil, fmt.Errorf("no cluster in %s: %w", dir, err)
	}
	var st State
	return &st, json.Unmarshal(b, &st)
}

// PodNetns returns the network namespace of a running pod, from the file
// the pod runner writes when it starts the pod.
func PodNetns(dir, namespace, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "pods", namespace+"_"+name+".netns"))
	if err != nil {
		return "", fmt.Errorf("pod %s/%s is not running in the cluster in %s", namespace, name, dir)
	}
	return string(b), nil
}

func nodeReady(n *corev1.Node) *corev1.Node {
	now := metav1.Now()
	n.Status.Conditions = []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		Message: "hivenet-box node is ready", LastHeartbeatTime: now, LastTransitionTime: now,
	}}
	return n
}
