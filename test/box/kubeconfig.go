package box

import (
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes an admin kubeconfig with the credentials inline, so
// it stays valid if copied elsewhere while the box runs.
func (cp *ControlPlane) writeKubeconfig() (string, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["hvk8s"] = &clientcmdapi.Cluster{Server: cp.URL, CertificateAuthorityData: cp.pki.caPEM}
	cfg.AuthInfos["hvk8s-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cp.pki.adminPEM, ClientKeyData: cp.pki.adminKeyPEM}
	cfg.Contexts["hvk8s"] = &clientcmdapi.Context{Cluster: "hvk8s", AuthInfo: "hvk8s-admin"}
	cfg.CurrentContext = "hvk8s"
	path := filepath.Join(cp.cfg.Dir, "kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}
