package client

import (
	"errors"
	"fmt"

	apiextensionsclientset "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Config is the Kubernetes client configuration; its fields are the agent's
// and operator's flags, named as Cilium names them.
type Config struct {
	// K8sKubeconfigPath is a kubeconfig file to connect with.
	K8sKubeconfigPath string `flag:"k8s-kubeconfig-path" help:"Absolute path of the kubernetes kubeconfig file (default: in-cluster configuration)"`
	// K8sAPIServer overrides the API server address.
	K8sAPIServer string `flag:"k8s-api-server" help:"Kubernetes API server URL (overrides the kubeconfig's and the in-cluster address)"`
	// K8sClientQPS is the sustained request rate to the API server.
	K8sClientQPS float64 `flag:"k8s-client-qps" help:"Queries per second limit for the K8s client"`
	// K8sClientBurst is the request burst to the API server.
	K8sClientBurst int `flag:"k8s-client-burst" help:"Burst value allowed for the K8s client"`
}

// DefaultConfig mirrors Cilium's defaults.
var DefaultConfig = Config{K8sClientQPS: 10, K8sClientBurst: 20}

// ErrNoConfig: neither a kubeconfig, an API server address nor an in-cluster
// environment was found.
var ErrNoConfig = errors.New("no kubernetes client configuration")

// Validate rejects limits the client cannot work with.
func (c Config) Validate() error {
	if c.K8sClientQPS <= 0 {
		return fmt.Errorf("k8s-client-qps must be positive, got %v", c.K8sClientQPS)
	}
	if c.K8sClientBurst <= 0 {
		return fmt.Errorf("k8s-client-burst must be positive, got %d", c.K8sClientBurst)
	}
	return nil
}

// RESTConfig resolves the configuration: the kubeconfig file if given, else
// the in-cluster service account, else just the API server address;
// k8s-api-server overrides the address in each case. It reads files but
// does not contact the server.
func (c Config) RESTConfig() (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	switch {
	case c.K8sKubeconfigPath != "":
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: c.K8sKubeconfigPath},
			&clientcmd.ConfigOverrides{ClusterInfo: clientcmdClusterOverride(c.K8sAPIServer)},
		).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", c.K8sKubeconfigPath, err)
		}
	default:
		cfg, err = rest.InClusterConfig()
		switch {
		case err == nil:
			if c.K8sAPIServer != "" {
				cfg.Host = c.K8sAPIServer
			}
		case c.K8sAPIServer != "":
			cfg = &rest.Config{Host: c.K8sAPIServer}
		default:
			return nil, fmt.Errorf("%w: set k8s-kubeconfig-path or k8s-api-server, or run in a pod (%v)", ErrNoConfig, err)
		}
	}
	cfg.QPS = float32(c.K8sClientQPS)
	cfg.Burst = c.K8sClientBurst
	if cfg.UserAgent == "" {
		cfg.UserAgent = "hivenet"
	}
	return cfg, nil
}

// Clientset bundles the clients hivenet uses: the core Kubernetes API,
// apiextensions (for CRD registration) and cilium.io.
type Clientset struct {
	kubernetes.Interface
	Apiextensions apiextensionsclientset.Interface
	Cilium        *Cilium
	// RESTConfig is the configuration the clients were built from.
	RESTConfig *rest.Config
}

// NewClientset builds every client from cfg. It does no I/O.
func NewClientset(cfg *rest.Config) (*Clientset, error) {
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	ext, err := apiextensionsclientset.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("apiextensions client: %w", err)
	}
	cil, err := NewCilium(cfg)
	if err != nil {
		return nil, err
	}
	return &Clientset{Interface: k, Apiextensions: ext, Cilium: cil, RESTConfig: rest.CopyConfig(cfg)}, nil
}
