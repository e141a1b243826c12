package client

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2alpha1"
)

// CiliumScheme knows the cilium.io kinds of every version hivenet serves.
var CiliumScheme = runtime.NewScheme()

var (
	ciliumCodecs   = serializer.NewCodecFactory(CiliumScheme)
	parameterCodec = runtime.NewParameterCodec(CiliumScheme)
)

func init() {
	utilruntime.Must(v2.AddToScheme(CiliumScheme))
	utilruntime.Must(v2alpha1.AddToScheme(CiliumScheme))
	metav1.AddToGroupVersion(CiliumScheme, schema.GroupVersion{Version: "v1"})
}

// CiliumV2 has a typed client per cilium.io/v2 kind.
type CiliumV2 struct {
	CiliumNetworkPolicies            *Resource[*v2.CiliumNetworkPolicy, *v2.CiliumNetworkPolicyList]
	CiliumClusterwideNetworkPolicies *Resource[*v2.CiliumClusterwideNetworkPolicy, *v2.CiliumClusterwideNetworkPolicyList]
	CiliumNodes                      *Resource[*v2.CiliumNode, *v2.CiliumNodeList]
	CiliumIdentities                 *Resource[*v2.CiliumIdentity, *v2.CiliumIdentityList]
	CiliumEndpoints                  *Resource[*v2.CiliumEndpoint, *v2.CiliumEndpointList]
	CiliumLoadBalancerIPPools        *Resource[*v2.CiliumLoadBalancerIPPool, *v2.CiliumLoadBalancerIPPoolList]
	CiliumEgressGatewayPolicies      *Resource[*v2.CiliumEgressGatewayPolicy, *v2.CiliumEgressGatewayPolicyList]
}

// CiliumV2alpha1 has a typed client per cilium.io/v2alpha1 kind.
type CiliumV2alpha1 struct {
	CiliumL2AnnouncementPolicies *Resource[*v2alpha1.CiliumL2AnnouncementPolicy, *v2alpha1.CiliumL2AnnouncementPolicyList]
	CiliumLoadBalancerIPPools    *Resource[*v2alpha1.CiliumLoadBalancerIPPool, *v2alpha1.CiliumLoadBalancerIPPoolList]
}

// Cilium is the typed client for the cilium.io group.
type Cilium struct {
	V2       CiliumV2
	V2alpha1 CiliumV2alpha1
}

// NewCilium builds the cilium.io clients on cfg (which is copied, not
// modified). It does no I/O.
func NewCilium(cfg *rest.Config) (*Cilium, error) {
	rc2, err := restClientFor(cfg, v2.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	rc2a1, err := restClientFor(cfg, v2alpha1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	return &Cilium{
		V2: CiliumV2{
			CiliumNetworkPolicies: newResource(rc2, v2.CNPPluralName, true,
				func() *v2.CiliumNetworkPolicy { return &v2.CiliumNetworkPolicy{} },
				func() *v2.CiliumNetworkPolicyList { return &v2.CiliumNetworkPolicyList{} }),
			CiliumClusterwideNetworkPolicies: newResource(rc2, v2.CCNPPluralName, false,
				func() *v2.CiliumClusterwideNetworkPolicy { return &v2.CiliumClusterwideNetworkPolicy{} },
				func() *v2.CiliumClusterwideNetworkPolicyList { return &v2.CiliumClusterwideNetworkPolicyList{} }),
			CiliumNodes: newResource(rc2, v2.CNPluralName, false,
				func() *v2.CiliumNode { return &v2.CiliumNode{} },
				func() *v2.CiliumNodeList { return &v2.CiliumNodeList{} }),
			CiliumIdentities: newResource(rc2, v2.CIDPluralName, false,
				func() *v2.CiliumIdentity { return &v2.CiliumIdentity{} },
				func() *v2.CiliumIdentityList { return &v2.CiliumIdentityList{} }),
			CiliumEndpoints: newResource(rc2, v2.CEPPluralName, true,
				func() *v2.CiliumEndpoint { return &v2.CiliumEndpoint{} },
				func() *v2.CiliumEndpointList { return &v2.CiliumEndpointList{} }),
			CiliumLoadBalancerIPPools: newResource(rc2, v2.PoolPluralName, false,
				func() *v2.CiliumLoadBalancerIPPool { return &v2.CiliumLoadBalancerIPPool{} },
				func() *v2.CiliumLoadBalancerIPPoolList { return &v2.CiliumLoadBalancerIPPoolList{} }),
			CiliumEgressGatewayPolicies: newResource(rc2, v2.CEGPPluralName, false,
				func() *v2.CiliumEgressGatewayPolicy { return &v2.CiliumEgressGatewayPolicy{} },
				func() *v2.CiliumEgressGatewayPolicyList { return &v2.CiliumEgressGatewayPolicyList{} }),
		},
		V2alpha1: CiliumV2alpha1{
			CiliumL2AnnouncementPolicies: newResource(rc2a1, v2alpha1.L2APPluralName, false,
				func() *v2alpha1.CiliumL2AnnouncementPolicy { return &v2alpha1.CiliumL2AnnouncementPolicy{} },
				func() *v2alpha1.CiliumL2AnnouncementPolicyList { return &v2alpha1.CiliumL2AnnouncementPolicyList{} }),
			CiliumLoadBalancerIPPools: newResource(rc2a1, v2alpha1.PoolPluralName, false,
				func() *v2alpha1.CiliumLoadBalancerIPPool { return &v2alpha1.CiliumLoadBalancerIPPool{} },
				func() *v2alpha1.CiliumLoadBalancerIPPoolList { return &v2alpha1.CiliumLoadBalancerIPPoolList{} }),
		},
	}, nil
}

func restClientFor(cfg *rest.Config, gv schema.GroupVersion) (*rest.RESTClient, error) {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &gv
	c.APIPath = "/apis"
	c.ContentType = runtime.ContentTypeJSON
	c.NegotiatedSerializer = ciliumCodecs.WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("REST client for %s: %w", gv, err)
	}
	return rc, nil
}

func metaOf(obj runtime.Object) (metav1.Object, error) {
	return meta.Accessor(obj)
}
