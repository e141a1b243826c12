package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hivenet/hivenet/cells/k8s/client"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://10.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: secret}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`

func TestRESTConfig(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := client.DefaultConfig
	cfg.K8sKubeconfigPath = path
	rc, err := cfg.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	if rc.Host != "https://10.0.0.1:6443" || rc.BearerToken != "secret" || rc.QPS != 10 || rc.Burst != 20 {
		t.Errorf("from kubeconfig: host %q token %q qps %v burst %d", rc.Host, rc.BearerToken, rc.QPS, rc.Burst)
	}

	cfg.K8sAPIServer = "https://192.168.1.1:6443"
	cfg.K8sClientQPS, cfg.K8sClientBurst = 50, 100
	if rc, err = cfg.RESTConfig(); err != nil || rc.Host != "https://192.168.1.1:6443" || rc.BearerToken != "secret" || rc.QPS != 50 || rc.Burst != 100 {
		t.Errorf("override: %+v, %v", rc, err)
	}

	only := client.DefaultConfig
	only.K8sAPIServer = "http://127.0.0.1:8080"
	if rc, err = only.RESTConfig(); err != nil || rc.Host != "http://127.0.0.1:8080" {
		t.Errorf("api server only: %+v, %v", rc, err)
	}

	if _, err := client.DefaultConfig.RESTConfig(); !errors.Is(err, client.ErrNoConfig) {
		t.Errorf("no configuration: want ErrNoConfig, got %v", err)
	}

	missing := client.DefaultConfig
	missing.K8sKubeconfigPath = filepath.Join(t.TempDir(), "nope")
	if _, err := missing.RESTConfig(); err == nil {
		t.Error("missing kubeconfig file accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := client.DefaultConfig.Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	bad := client.DefaultConfig
	bad.K8sClientQPS = 0
	if err := bad.Validate(); err == nil {
		t.Error("qps 0 accepted")
	}
	bad = client.DefaultConfig
	bad.K8sClientBurst = -1
	if err := bad.Validate(); err == nil {
		t.Error("negative burst accepted")
	}
}
