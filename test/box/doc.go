// Package box is the cluster-in-a-box: a real Kubernetes control plane (etcd,
// kube-apiserver and kube-controller-manager) run as local processes on
// 127.0.0.1 with random free ports and throwaway certificates, so hivenet's
// end-to-end tests and demo run against the real API server without any
// container runtime.
//
// The binaries come from test/k8sbin/build.sh, which builds them from the Go
// module proxy into ${HIVENET_CACHE:-$HOME/.cache/hivenet}/k8s-1.34.4.
// Start fails with ErrBinariesMissing when they are not there.
//
// Every temporary directory the box creates is named hvk8s-*; every process
// it starts is stopped by PID in Stop.
//
// Errors: ErrBinariesMissing (run the build script), ErrNotReady (a component
// did not become ready before its deadline; the error carries the tail of its
// log).
package box
