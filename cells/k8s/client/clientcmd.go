package client

import clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

func clientcmdClusterOverride(server string) clientcmdapi.Cluster {
	return clientcmdapi.Cluster{Server: server}
}
