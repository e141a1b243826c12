package box

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
)

// KubernetesVersion is the Kubernetes release the box runs.
const KubernetesVersion = "1.34.4"

var (
	// ErrBinariesMissing: the control-plane binaries are not built. Run
	// test/k8sbin/build.sh (it takes a few minutes once, then is cached).
	ErrBinariesMissing = errors.New("kubernetes binaries missing")
	// ErrNotReady: a component did not become ready before its deadline.
	ErrNotReady = errors.New("component not ready")
)

// Binaries the box needs in Config.BinDir.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kubectl"}

// DefaultBinDir is where test/k8sbin/build.sh puts the binaries:
// $HIVENET_K8S_BIN if set, else ${HIVENET_CACHE:-$HOME/.cache/hivenet}/k8s-<version>.
func DefaultBinDir() string {
	if d := os.Getenv("HIVENET_K8S_BIN"); d != "" {
		return d
	}
	cache := os.Getenv("HIVENET_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "/root"
		}
		cache = filepath.Join(home, ".cache", "hivenet")
	}
	return filepath.Join(cache, "k8s-"+KubernetesVersion)
}

// Config says how to run the control plane. The zero value is usable.
type Config struct {
	// BinDir holds etcd, kube-apiserver, kube-controller-manager and
	// kubectl. Default: DefaultBinDir().
	BinDir string
	// Dir is the working directory for data, certificates and logs. Default:
	// a new hvk8s-* directory under os.TempDir(), removed by Stop.
	Dir string
	// BindAddress is where the API server listens. Default 127.0.0.1. Node
	// network namespaces cannot reach the host's loopback, so a box with
	// nodes binds to an address on its bridge instead.
	BindAddress string
	// ServiceCIDR is the ClusterIP range. Default 10.96.0.0/16.
	ServiceCIDR string
	// ClusterCIDR is the pod range the node-ipam controller carves per-node
	// pod CIDRs from. Default 10.244.0.0/16.
	ClusterCIDR string
	// NodeCIDRMaskSize is the prefix length of each node's pod CIDR. Default 24.
	NodeCIDRMaskSize int
	// NoControllerManager skips kube-controller-manager (tests that only
	// need the API are faster without it).
	NoControllerManager bool
	// ReadyTimeout bounds the wait for each component. Default 60s; a cold
	// first start on a busy 2-core machine can take tens of seconds.
	ReadyTimeout time.Duration
}

func (c *Config) defaults() {
	if c.BinDir == "" {
		c.BinDir = DefaultBinDir()
	}
	if c.BindAddress == "" {
		c.BindAddress = "127.0.0.1"
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = "10.96.0.0/16"
	}
	if c.ClusterCIDR == "" {
		c.ClusterCIDR = "10.244.0.0/16"
	}
	if c.NodeCIDRMaskSize == 0 {
		c.NodeCIDRMaskSize = 24
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 60 * time.Second
	}
}

// CheckBinaries returns ErrBinariesMissing, naming the missing files and the
// command that builds them, unless every binary is in dir.
func CheckBinaries(dir string) error {
	var missing []string
	for _, b := range binaries {
		if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %v not found in %s; build them with test/k8sbin/build.sh", ErrBinariesMissing, missing, dir)
	}
	return nil
}

// ControlPlane is a running etcd + kube-apiserver (+ kube-controller-manager).
type ControlPlane struct {
	cfg     Config
	ownsDir bool
	pki     *pki

	etcd, apiserver, kcm *process
	etcdClientPort       int
	apiPort              int

	// Kubeconfig is the path of an admin kubeconfig for kubectl and clients.
	Kubeconfig string
	// URL is the API server's address, https://<bind>:<port>.
	URL string
}

// Start runs the control plane and returns once the API server answers
// /readyz and, unless disabled, the controller-manager is serving. On error
// everything started is stopped again.
func Start(ctx context.Context, cfg Config) (cp *ControlPlane, err error) {
	cfg.defaults()
	if err := CheckBinaries(cfg.BinDir); err != nil {
		return nil, err
	}
	cp = &ControlPlane{cfg: cfg}
	if cp.cfg.Dir == "" {
		if cp.cfg.Dir, err = os.MkdirTemp("", "hvk8s-"); err != nil {
			return nil, err
		}
		cp.ownsDir = true
	}
	// "return nil, err" sets the named result to nil before deferred
	// functions run, so clean up through a copy.
	started := cp
	defer func() {
		if err != nil {
			started.Stop()
		}
	}()
	_, svcNet, err := net.ParseCIDR(cfg.ServiceCIDR)
	if err != nil {
		return nil, fmt.Errorf("service CIDR %q: %w", cfg.ServiceCIDR, err)
	}
	bindIP := net.ParseIP(cfg.BindAddress)
	if bindIP == nil {
		return nil, fmt.Errorf("bind address %q is not an IP address", cfg.BindAddress)
	}
	if cp.pki, err = newPKI(cp.cfg.Dir, firstIP(svcNet), bindIP); err != nil {
		return nil, fmt.Errorf("certificates: %w", err)
	}
	if err := cp.startEtcd(ctx); err != nil {
		return nil, err
	}
	if cp.apiPort, err = freePort(cfg.BindAddress); err != nil {
		return nil, err
	}
	cp.URL = "https://" + net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cp.apiPort))
	if cp.Kubeconfig, err = cp.writeKubeconfig(); err != nil {
		return nil, err
	}
	if err := cp.StartAPIServer(ctx); err != nil {
		return nil, err
	}
	if !cfg.NoControllerManager {
		if err := cp.startControllerManager(ctx); err != nil {
			return nil, err
		}
	}
	return cp, nil
}

// Dir is the working directory: certificates, data and <component>.log files.
func (cp *ControlPlane) Dir() string { return cp.cfg.Dir }

// EtcdURL is etcd's client URL. Tests use it to change storage behind the
// API server's back, e.g. to make a watch's resource version expire.
func (cp *ControlPlane) EtcdURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(cp.etcdClientPort)
}

// BinDir is where the control-plane binaries (and kubectl) are.
func (cp *ControlPlane) BinDir() string { return cp.cfg.BinDir }

// RESTConfig returns a fresh admin client configuration.
func (cp *ControlPlane) RESTConfig() *rest.Config {
	return &rest.Config{
		Host: cp.URL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   cp.pki.caPEM,
			CertData: cp.pki.adminPEM,
			KeyData:  cp.pki.adminKeyPEM,
		},
		QPS:   200,
		Burst: 400,
	}
}

// Stop stops every component (controller-manager, API server, etcd, in that
// order) and removes the working directory if Start created it.
func (cp *ControlPlane) Stop() {
	for _, p := range []*process{cp.kcm, cp.apiserver, cp.etcd} {
		if p != nil {
			p.stop(10 * time.Second)
		}
	}
	if cp.ownsDir && os.Getenv("HIVENET_BOX_KEEP") == "" {
		os.RemoveAll(cp.cfg.Dir)
	}
}

func (cp *ControlPlane) startEtcd(ctx context.Context) error {
	host := "127.0.0.1"
	client, err := freePort(host)
	if err != nil {
		return err
	}
	peer, err := freePort(host)
	if err != nil {
		return err
	}
	cp.etcdClientPort = client
	clientURL := fmt.Sprintf("http://%s:%d", host, client)
	peerURL := fmt.Sprintf("http://%s:%d", host, peer)
	cp.etcd = newProcess(cp.cfg.Dir, "etcd", filepath.Join(cp.cfg.BinDir, "etcd"),
		"--name=hvk8s",
		"--data-dir="+filepath.Join(cp.cfg.Dir, "etcd-data"),
		"--listen-client-urls="+clientURL,
		"--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=hvk8s="+peerURL,
		// Test data is thrown away; fsync would only slow every write.
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	)
	if err := cp.etcd.start(); err != nil {
		return err
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	return cp.waitReady(ctx, cp.etcd, func() error {
		return httpOK(hc, clientURL+"/health")
	})
}

// StartAPIServer starts kube-apiserver (again, after StopAPIServer: same
// port, same certificates, same etcd) and waits until /readyz answers ok.
func (cp *ControlPlane) StartAPIServer(ctx context.Context) error {
	args := []string{
		"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(cp.etcdClientPort),
		"--bind-address=" + cp.cfg.BindAddress,
		"--advertise-address=" + cp.cfg.BindAddress,
		"--secure-port=" + strconv.Itoa(cp.apiPort),
		"--tls-cert-file=" + cp.pki.ServingCert,
		"--tls-private-key-file=" + cp.pki.ServingKey,
		"--client-ca-file=" + cp.pki.CACert,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + cp.pki.SAPub,
		"--service-account-signing-key-file=" + cp.pki.SAKey,
		"--service-cluster-ip-range=" + cp.cfg.ServiceCIDR,
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		// The pod runner plays kubelet without projecting service-account
		// tokens; without this, pods created right after their namespace
		// race the serviceaccount controller.
		"--disable-admission-plugins=ServiceAccount",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	}
	if ip := net.ParseIP(cp.cfg.BindAddress); ip != nil && ip.IsLoopback() {
		// Endpoints may not hold loopback addresses, so the reconciler
		// would only log errors for the kubernetes service.
		args = append(args, "--endpoint-reconciler-type=none")
	}
	cp.apiserver = newProcess(cp.cfg.Dir, "kube-apiserver", filepath.Join(cp.cfg.BinDir, "kube-apiserver"), args...)
	if err := cp.apiserver.start(); err != nil {
		return err
	}
	hc, err := cp.adminHTTPClient()
	if err != nil {
		return err
	}
	return cp.waitReady(ctx, cp.apiserver, func() error {
		return httpOK(hc, cp.URL+"/readyz")
	})
}

// StopAPIServer stops kube-apiserver only; etcd and the controller-manager
// keep running, as when an API server is restarted in a real cluster.
func (cp *ControlPlane) StopAPIServer() {
	if cp.apiserver != nil {
		cp.apiserver.stop(10 * time.Second)
	}
}

// PIDs returns the PIDs of the running components by name.
func (cp *ControlPlane) PIDs() map[string]int {
	out := map[string]int{}
	for _, p := range []*process{cp.etcd, cp.apiserver, cp.kcm} {
		if p != nil {
			if done, _ := p.exited(); !done {
				out[p.name] = p.pid()
			}
		}
	}
	return out
}

func (cp *ControlPlane) startControllerManager(ctx context.Context) error {
	port, err := freePort("127.0.0.1")
	if err != nil {
		return err
	}
	cp.kcm = newProcess(cp.cfg.Dir, "kube-controller-manager", filepath.Join(cp.cfg.BinDir, "kube-controller-manager"),
		"--kubeconfig="+cp.Kubeconfig,
		"--authentication-kubeconfig="+cp.Kubeconfig,
		"--authorization-kubeconfig="+cp.Kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--cert-dir="+filepath.Join(cp.cfg.Dir, "kcm-certs"),
		"--leader-elect=false",
		"--controllers=endpointslice-controller,serviceaccount-controller,namespace-controller,garbage-collector-controller,node-ipam-controller,deployment-controller,replicaset-controller,daemonset-controller,job-controller,statefulset-controller",
		"--allocate-node-cidrs=true",
		"--cluster-cidr="+cp.cfg.ClusterCIDR,
		"--node-cidr-mask-size="+strconv.Itoa(cp.cfg.NodeCIDRMaskSize),
		"--service-cluster-ip-range="+cp.cfg.ServiceCIDR,
		"--root-ca-file="+cp.pki.CACert,
		"--service-account-private-key-file="+cp.pki.SAKey,
		"--use-service-account-credentials=false",
		"--profiling=false",
	)
	if err := cp.kcm.start(); err != nil {
		return err
	}
	// The serving certificate is self-signed by the controller-manager.
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health probe of a self-signed server
	}}
	return cp.waitReady(ctx, cp.kcm, func() error {
		return httpOK(hc, fmt.Sprintf("https://127.0.0.1:%d/healthz", port))
	})
}

// waitReady polls probe until it succeeds, the process exits, or the
// deadline passes; failures carry the tail of the component's log.
func (cp *ControlPlane) waitReady(ctx context.Context, p *process, probe func() error) error {
	ctx, cancel := context.WithTimeout(ctx, cp.cfg.ReadyTimeout)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var last error
	for {
		if done, exitErr := p.exited(); done {
			return fmt.Errorf("%w: %s exited (%v); log tail:\n%s", ErrNotReady, p.name, exitErr, p.logTail(30))
		}
		if last = probe(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s after %s: %v; log tail:\n%s", ErrNotReady, p.name, cp.cfg.ReadyTimeout, last, p.logTail(30))
		case <-t.C:
		}
	}
}

func (cp *ControlPlane) adminHTTPClient() (*http.Client, error) {
	cert, err := tls.X509KeyPair(cp.pki.adminPEM, cp.pki.adminKeyPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cp.pki.caPEM)
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}},
	}}, nil
}

func httpOK(hc *http.Client, url string) error {
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}

// freePort asks the kernel for a free TCP port on host. Another process may
// take it before the component binds it; Start then fails with the
// component's "address in use" in the error.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func firstIP(n *net.IPNet) net.IP {
	ip := make(net.IP, len(n.IP))
	copy(ip, n.IP)
	ip[len(ip)-1]++
	return ip
}
