package v2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of every Cilium custom resource.
const GroupName = "cilium.io"

// SchemeGroupVersion is cilium.io/v2.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v2"}

// Plural resource names, as used in API paths and CRD names.
const (
	CNPPluralName  = "ciliumnetworkpolicies"
	CCNPPluralName = "ciliumclusterwidenetworkpolicies"
	CNPluralName   = "ciliumnodes"
	CIDPluralName  = "ciliumidentities"
	CEPPluralName  = "ciliumendpoints"
	PoolPluralName = "ciliumloadbalancerippools"
	CEGPPluralName = "ciliumegressgatewaypolicies"
)

// Resource returns the GroupVersionResource of a plural name in cilium.io/v2.
func Resource(plural string) schema.GroupVersionResource {
	return SchemeGroupVersion.WithResource(plural)
}

var (
	// SchemeBuilder collects the functions that add this version's types to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds the cilium.io/v2 kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion,
		&CiliumNetworkPolicy{}, &CiliumNetworkPolicyList{},
		&CiliumClusterwideNetworkPolicy{}, &CiliumClusterwideNetworkPolicyList{},
		&CiliumNode{}, &CiliumNodeList{},
		&CiliumIdentity{}, &CiliumIdentityList{},
		&CiliumEndpoint{}, &CiliumEndpointList{},
		&CiliumLoadBalancerIPPool{}, &CiliumLoadBalancerIPPoolList{},
		&CiliumEgressGatewayPolicy{}, &CiliumEgressGatewayPolicyList{},
	)
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}
