// Package client holds hivenet's Kubernetes clients: typed clients for the
// cilium.io kinds (Cilium, built on a REST client per API version, enough for
// reflectors to list and watch them), and the Clientset the agent and
// operator share.
package client
