// Package apis holds hivenet's Kubernetes API types (the cilium.io group in
// cilium.io/v2 and cilium.io/v2alpha1) and the generator invocations that
// derive their DeepCopy methods and CRD schemas from the kubebuilder markers.
//
// Regenerate after changing a type with:
//
//	go generate ./cells/k8s/apis
package apis

//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.19.0 object paths=./cilium.io/...
//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.19.0 crd:crdVersions=v1 paths=./cilium.io/... output:crd:artifacts:config=../crds/manifests
