// Package v2 is the cilium.io/v2 API: the Go types of the Cilium custom
// resources hivenet reads and writes, with the group, version, kinds and JSON
// field names that users' Cilium manifests use, so those manifests apply
// unchanged.
//
// The kubebuilder markers on the types are the source of the CRD schemas in
// cells/k8s/crds; zz_generated.deepcopy.go is generated from them. Regenerate
// both with `go generate ./cells/k8s/apis/...` (see generate.go).
//
// +kubebuilder:object:generate=true
// +groupName=cilium.io
package v2
