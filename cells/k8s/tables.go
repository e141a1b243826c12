package k8s

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2alpha1"
	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

// Table names, as shown by `hivenet db list`.
const (
	PodsTableName                    = "k8s-pods"
	NamespacesTableName              = "k8s-namespaces"
	ServicesTableName                = "k8s-services"
	EndpointSlicesTableName          = "k8s-endpointslices"
	NodesTableName                   = "k8s-nodes"
	NetworkPoliciesTableName         = "k8s-networkpolicies"
	CiliumNetworkPoliciesTableName   = "k8s-ciliumnetworkpolicies"
	CiliumClusterwidePoliciesName    = "k8s-ciliumclusterwidenetworkpolicies"
	CiliumNodesTableName             = "k8s-ciliumnodes"
	CiliumIdentitiesTableName        = "k8s-ciliumidentities"
	CiliumEndpointsTableName         = "k8s-ciliumendpoints"
	CiliumLBIPPoolsTableName         = "k8s-ciliumloadbalancerippools"
	CiliumL2AnnouncementPoliciesName = "k8s-ciliuml2announcementpolicies"
	CiliumEgressGatewayPoliciesName  = "k8s-ciliumegressgatewaypolicies"
)

var (
	// PodNodeIndex indexes pods by spec.nodeName.
	PodNodeIndex = statedb.Index[*corev1.Pod, string]{
		Name:       "node",
		FromObject: func(p *corev1.Pod) index.KeySet { return index.NewKeySet(index.String(p.Spec.NodeName)) },
		FromKey:    index.String,
		FromString: index.FromString,
	}

	// EndpointSliceServiceIndex indexes endpoint slices by the service they
	// belong to (their kubernetes.io/service-name label).
	EndpointSliceServiceIndex = statedb.Index[*discoveryv1.EndpointSlice, Key]{
		Name: "service",
		FromObject: func(s *discoveryv1.EndpointSlice) index.KeySet {
			svc := s.Labels[discoveryv1.LabelServiceName]
			if svc == "" {
				return index.NewKeySet()
			}
			return index.NewKeySet(index.String(Key{Namespace: s.Namespace, Name: svc}.String()))
		},
		FromKey:    func(k Key) index.Key { return index.String(k.String()) },
		FromString: index.FromString,
	}
)

func namespaced[T Object](name string, extra ...statedb.Indexer[T]) (statedb.RWTable[T], error) {
	return statedb.NewTable(name, NameIndex[T](), append([]statedb.Indexer[T]{NamespaceIndex[T]()}, extra...)...)
}

func clusterScoped[T Object](name string) (statedb.RWTable[T], error) {
	return statedb.NewTable(name, NameIndex[T]())
}

// NewPodsTable makes the pods table (by name, namespace and node).
func NewPodsTable() (statedb.RWTable[*corev1.Pod], error) {
	return namespaced(PodsTableName, statedb.Indexer[*corev1.Pod](PodNodeIndex))
}

// NewNamespacesTable makes the namespaces table.
func NewNamespacesTable() (statedb.RWTable[*corev1.Namespace], error) {
	return clusterScoped[*corev1.Namespace](NamespacesTableName)
}

// NewServicesTable makes the services table.
func NewServicesTable() (statedb.RWTable[*corev1.Service], error) {
	return namespaced[*corev1.Service](ServicesTableName)
}

// NewEndpointSlicesTable makes the endpoint slices table (also by service).
func NewEndpointSlicesTable() (statedb.RWTable[*discoveryv1.EndpointSlice], error) {
	return namespaced(EndpointSlicesTableName, statedb.Indexer[*discoveryv1.EndpointSlice](EndpointSliceServiceIndex))
}

// NewNodesTable makes the nodes table.
func NewNodesTable() (statedb.RWTable[*corev1.Node], error) {
	return clusterScoped[*corev1.Node](NodesTableName)
}

// NewNetworkPoliciesTable makes the networking.k8s.io/v1 NetworkPolicy table.
func NewNetworkPoliciesTable() (statedb.RWTable[*networkingv1.NetworkPolicy], error) {
	return namespaced[*networkingv1.NetworkPolicy](NetworkPoliciesTableName)
}

// NewCiliumNetworkPoliciesTable makes the CiliumNetworkPolicy table.
func NewCiliumNetworkPoliciesTable() (statedb.RWTable[*v2.CiliumNetworkPolicy], error) {
	return namespaced[*v2.CiliumNetworkPolicy](CiliumNetworkPoliciesTableName)
}

// NewCiliumClusterwideNetworkPoliciesTable makes the CiliumClusterwideNetworkPolicy table.
func NewCiliumClusterwideNetworkPoliciesTable() (statedb.RWTable[*v2.CiliumClusterwideNetworkPolicy], error) {
	return clusterScoped[*v2.CiliumClusterwideNetworkPolicy](CiliumClusterwidePoliciesName)
}

// NewCiliumNodesTable makes the CiliumNode table.
func NewCiliumNodesTable() (statedb.RWTable[*v2.CiliumNode], error) {
	return clusterScoped[*v2.CiliumNode](CiliumNodesTableName)
}

// NewCiliumIdentitiesTable makes the CiliumIdentity table.
func NewCiliumIdentitiesTable() (statedb.RWTable[*v2.CiliumIdentity], error) {
	return clusterScoped[*v2.CiliumIdentity](CiliumIdentitiesTableName)
}

// NewCiliumEndpointsTable makes the CiliumEndpoint table.
func NewCiliumEndpointsTable() (statedb.RWTable[*v2.CiliumEndpoint], error) {
	return namespaced[*v2.CiliumEndpoint](CiliumEndpointsTableName)
}

// NewCiliumLoadBalancerIPPoolsTable makes the CiliumLoadBalancerIPPool table
// (objects as cilium.io/v2; the API server converts v2alpha1 ones).
func NewCiliumLoadBalancerIPPoolsTable() (statedb.RWTable[*v2.CiliumLoadBalancerIPPool], error) {
	return clusterScoped[*v2.CiliumLoadBalancerIPPool](CiliumLBIPPoolsTableName)
}

// NewCiliumL2AnnouncementPoliciesTable makes the CiliumL2AnnouncementPolicy table.
func NewCiliumL2AnnouncementPoliciesTable() (statedb.RWTable[*v2alpha1.CiliumL2AnnouncementPolicy], error) {
	return clusterScoped[*v2alpha1.CiliumL2AnnouncementPolicy](CiliumL2AnnouncementPoliciesName)
}

// NewCiliumEgressGatewayPoliciesTable makes the CiliumEgressGatewayPolicy table.
func NewCiliumEgressGatewayPoliciesTable() (statedb.RWTable[*v2.CiliumEgressGatewayPolicy], error) {
	return clusterScoped[*v2.CiliumEgressGatewayPolicy](CiliumEgressGatewayPoliciesName)
}
