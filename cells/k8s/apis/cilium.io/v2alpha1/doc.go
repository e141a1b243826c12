// Package v2alpha1 is the cilium.io/v2alpha1 API: CiliumL2AnnouncementPolicy,
// and CiliumLoadBalancerIPPool as older manifests spell it (the same schema
// as v2, served by the same CRD with v2 as the storage version).
//
// +kubebuilder:object:generate=true
// +groupName=cilium.io
package v2alpha1
