// Package nodes holds the multi-node end-to-end tests of routing between
// nodes: a real control plane (test/box), node network namespaces on one
// bridge, each running a real hivenet-agent against the API server, with
// pods wired by the real hivenet-cni binary. The tests are in the _test
// files; they need root and the Kubernetes binaries of test/k8sbin.
//
// Every namespace, link, bpffs directory and bridge they create is named
// hvnd-*.
package nodes
