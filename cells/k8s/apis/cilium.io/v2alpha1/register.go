package v2alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of every Cilium custom resource.
const GroupName = "cilium.io"

// SchemeGroupVersion is cilium.io/v2alpha1.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v2alpha1"}

// Plural resource names in this version.
const (
	PoolPluralName = "ciliumloadbalancerippools"
	L2APPluralName = "ciliuml2announcementpolicies"
)

// Resource returns the GroupVersionResource of a plural name in cilium.io/v2alpha1.
func Resource(plural string) schema.GroupVersionResource {
	return SchemeGroupVersion.WithResource(plural)
}

var (
	// SchemeBuilder collects the functions that add this version's types to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the cilium.io/v2alpha1 kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion,
		&CiliumLoadBalancerIPPool{}, &CiliumLoadBalancerIPPoolList{},
		&CiliumL2AnnouncementPolicy{}, &CiliumL2AnnouncementPolicyList{},
	)
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}
