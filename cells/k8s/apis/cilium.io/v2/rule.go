package v2

import "k8s.io/apimachinery/pkg/util/intstr"

// Rule is one Cilium policy rule: the spec (or one entry of specs) of a
// CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy. It selects endpoints
// (or, for clusterwide policies, nodes) and lists what they may send and
// receive. Deny rules win over allow rules.
type Rule struct {
	// endpointSelector selects the endpoints this rule applies to.
	// Exactly one of endpointSelector and nodeSelector is set.
	// +optional
	EndpointSelector *EndpointSelector `json:"endpointSelector,omitempty"`
	// nodeSelector selects the nodes this rule applies to (clusterwide policies only).
	// +optional
	NodeSelector *EndpointSelector `json:"nodeSelector,omitempty"`
	// ingress is the list of allowed incoming traffic.
	// +optional
	Ingress []IngressRule `json:"ingress,omitempty"`
	// ingressDeny is the list of denied incoming traffic; it wins over ingress.
	// +optional
	IngressDeny []IngressDenyRule `json:"ingressDeny,omitempty"`
	// egress is the list of allowed outgoing traffic.
	// +optional
	Egress []EgressRule `json:"egress,omitempty"`
	// egressDeny is the list of denied outgoing traffic; it wins over egress.
	// +optional
	EgressDeny []EgressDenyRule `json:"egressDeny,omitempty"`
	// labels identify the rule, e.g. to delete it through the API.
	// +optional
	Labels []Label `json:"labels,omitempty"`
	// enableDefaultDeny says whether selecting an endpoint puts it in default
	// deny for a direction (default: true for each direction that has rules).
	// +optional
	EnableDefaultDeny DefaultDenyConfig `json:"enableDefaultDeny,omitempty"`
	// description is free text for humans.
	// +optional
	Description string `json:"description,omitempty"`
}

// EndpointSelector selects endpoints by their labels. Keys may carry a source
// prefix as in Cilium ("k8s:io.kubernetes.pod.namespace").
type EndpointSelector struct {
	LabelSelector `json:",inline"`
}

// Label is a policy rule label.
type Label struct {
	Key string `json:"key"`
	// +optional
	Value string `json:"value,omitempty"`
	// source is the label's origin, e.g. "k8s" or "unspec".
	// +optional
	Source string `json:"source,omitempty"`
}

// DefaultDenyConfig is enableDefaultDeny: per direction, whether the policy
// switches the selected endpoints to default deny. Unset means true.
type DefaultDenyConfig struct {
	// +optional
	Ingress *bool `json:"ingress,omitempty"`
	// +optional
	Egress *bool `json:"egress,omitempty"`
}

// IngressCommonRule is the peer part of ingress and ingressDeny rules. The
// from* lists are ORed with each other.
type IngressCommonRule struct {
	// fromEndpoints selects the endpoints that may send traffic.
	// +optional
	FromEndpoints []EndpointSelector `json:"fromEndpoints,omitempty"`
	// fromRequires is a list of additional constraints that every peer must meet.
	// +optional
	FromRequires []EndpointSelector `json:"fromRequires,omitempty"`
	// fromCIDR lists CIDRs outside the cluster that may send traffic.
	// +optional
	FromCIDR []CIDR `json:"fromCIDR,omitempty"`
	// fromCIDRSet is fromCIDR with exceptions.
	// +optional
	FromCIDRSet []CIDRRule `json:"fromCIDRSet,omitempty"`
	// fromEntities lists special entities (world, cluster, host, ...).
	// +optional
	FromEntities []Entity `json:"fromEntities,omitempty"`
	// fromNodes selects nodes by their labels.
	// +optional
	FromNodes []EndpointSelector `json:"fromNodes,omitempty"`
}

// IngressRule allows traffic from the peers it names to the ports it names.
type IngressRule struct {
	IngressCommonRule `json:",inline"`
	// toPorts restricts the ports (and L7 requests) allowed; empty means all.
	// +optional
	ToPorts []PortRule `json:"toPorts,omitempty"`
	// icmps restricts the ICMP types allowed.
	// +optional
	ICMPs []ICMPRule `json:"icmps,omitempty"`
}

// IngressDenyRule denies traffic from the peers it names to the ports it names.
type IngressDenyRule struct {
	IngressCommonRule `json:",inline"`
	// +optional
	ToPorts []PortDenyRule `json:"toPorts,omitempty"`
	// +optional
	ICMPs []ICMPRule `json:"icmps,omitempty"`
}

// EgressCommonRule is the peer part of egress and egressDeny rules.
type EgressCommonRule struct {
	// toEndpoints selects the endpoints that may be reached.
	// +optional
	ToEndpoints []EndpointSelector `json:"toEndpoints,omitempty"`
	// toRequires is a list of additional constraints that every peer must meet.
	// +optional
	ToRequires []EndpointSelector `json:"toRequires,omitempty"`
	// toCIDR lists CIDRs outside the cluster that may be reached.
	// +optional
	ToCIDR []CIDR `json:"toCIDR,omitempty"`
	// toCIDRSet is toCIDR with exceptions.
	// +optional
	ToCIDRSet []CIDRRule `json:"toCIDRSet,omitempty"`
	// toEntities lists special entities (world, cluster, host, ...).
	// +optional
	ToEntities []Entity `json:"toEntities,omitempty"`
	// toServices selects Kubernetes services whose backends may be reached.
	// +optional
	ToServices []Service `json:"toServices,omitempty"`
	// toNodes selects nodes by their labels.
	// +optional
	ToNodes []EndpointSelector `json:"toNodes,omitempty"`
}

// EgressRule allows traffic to the peers and ports it names.
type EgressRule struct {
	EgressCommonRule `json:",inline"`
	// +optional
	ToPorts []PortRule `json:"toPorts,omitempty"`
	// toFQDNs allows traffic to names resolved through DNS.
	// +optional
	ToFQDNs []FQDNSelector `json:"toFQDNs,omitempty"`
	// +optional
	ICMPs []ICMPRule `json:"icmps,omitempty"`
}

// EgressDenyRule denies traffic to the peers and ports it names.
type EgressDenyRule struct {
	EgressCommonRule `json:",inline"`
	// +optional
	ToPorts []PortDenyRule `json:"toPorts,omitempty"`
	// +optional
	ICMPs []ICMPRule `json:"icmps,omitempty"`
}

// CIDR is an IPv4 or IPv6 prefix such as 10.0.0.0/8.
//
// +kubebuilder:validation:Format=cidr
type CIDR string

// CIDRRule is a CIDR with excepted sub-prefixes.
type CIDRRule struct {
	// cidr is the prefix allowed (or denied).
	// +optional
	Cidr CIDR `json:"cidr,omitempty"`
	// cidrGroupRef names a CiliumCIDRGroup instead of a literal prefix.
	// +optional
	CIDRGroupRef string `json:"cidrGroupRef,omitempty"`
	// except lists prefixes inside cidr that the rule does not cover.
	// +optional
	ExceptCIDRs []CIDR `json:"except,omitempty"`
}

// Entity is a named class of peers.
//
// +kubebuilder:validation:Enum=all;world;cluster;host;init;ingress;unmanaged;remote-node;health;none;kube-apiserver;world-ipv4;world-ipv6
type Entity string

// The entities Cilium defines.
const (
	EntityAll           Entity = "all"
	EntityWorld         Entity = "world"
	EntityWorldIPv4     Entity = "world-ipv4"
	EntityWorldIPv6     Entity = "world-ipv6"
	EntityCluster       Entity = "cluster"
	EntityHost          Entity = "host"
	EntityInit          Entity = "init"
	EntityIngress       Entity = "ingress"
	EntityUnmanaged     Entity = "unmanaged"
	EntityRemoteNode    Entity = "remote-node"
	EntityHealth        Entity = "health"
	EntityNone          Entity = "none"
	EntityKubeAPIServer Entity = "kube-apiserver"
)

// Service selects a Kubernetes service for toServices.
type Service struct {
	// +optional
	K8sServiceSelector *K8sServiceSelectorNamespace `json:"k8sServiceSelector,omitempty"`
	// +optional
	K8sService *K8sServiceNamespace `json:"k8sService,omitempty"`
}

// K8sServiceNamespace names one service.
type K8sServiceNamespace struct {
	// +optional
	ServiceName string `json:"serviceName,omitempty"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// K8sServiceSelectorNamespace selects services by label.
type K8sServiceSelectorNamespace struct {
	Selector LabelSelector `json:"selector"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// FQDNSelector matches DNS names.
type FQDNSelector struct {
	// +optional
	// +kubebuilder:validation:Pattern=`^([-a-zA-Z0-9_]+[.]?)+$`
	MatchName string `json:"matchName,omitempty"`
	// +optional
	// +kubebuilder:validation:Pattern=`^([-a-zA-Z0-9_*]+[.]?)+$`
	MatchPattern string `json:"matchPattern,omitempty"`
}

// PortRule lists L4 ports and, optionally, L7 rules on them.
type PortRule struct {
	// ports is the list of L4 ports; empty means all ports.
	// +optional
	// +kubebuilder:validation:MaxItems=40
	Ports []PortProtocol `json:"ports,omitempty"`
	// rules are L7 rules applied on these ports.
	// +optional
	Rules *L7Rules `json:"rules,omitempty"`
}

// PortDenyRule lists L4 ports to deny.
type PortDenyRule struct {
	// +optional
	// +kubebuilder:validation:MaxItems=40
	Ports []PortProtocol `json:"ports,omitempty"`
}

// PortProtocol is an L4 port (or port range, or named port) and protocol.
type PortProtocol struct {
	// port is a port number or a named port of the destination pod.
	// An empty port or "0" means all ports.
	// Unlike Cilium's pattern, both alternatives are anchored, so "99999" is
	// refused instead of matching on its first four digits.
	// +kubebuilder:validation:Pattern=`^((6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})|([a-zA-Z0-9]-?)*[a-zA-Z](-?[a-zA-Z0-9])*)$`
	// +optional
	Port string `json:"port,omitempty"`
	// endPort makes port..endPort a range.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	// +optional
	EndPort int32 `json:"endPort,omitempty"`
	// protocol is the L4 protocol; ANY (the default) matches TCP, UDP and SCTP.
	// +kubebuilder:validation:Enum=TCP;UDP;SCTP;ICMP;ICMPV6;VRRP;IGMP;ANY
	// +optional
	Protocol L4Proto `json:"protocol,omitempty"`
}

// L4Proto is an L4 protocol name.
type L4Proto string

// The protocols a port rule names.
const (
	ProtoTCP    L4Proto = "TCP"
	ProtoUDP    L4Proto = "UDP"
	ProtoSCTP   L4Proto = "SCTP"
	ProtoICMP   L4Proto = "ICMP"
	ProtoICMPv6 L4Proto = "ICMPV6"
	ProtoAny    L4Proto = "ANY"
)

// L7Rules are application-level rules on a port.
type L7Rules struct {
	// http rules; a request matching any of them is allowed.
	// +optional
	HTTP []PortRuleHTTP `json:"http,omitempty"`
	// dns rules for the DNS proxy.
	// +optional
	DNS []PortRuleDNS `json:"dns,omitempty"`
}

// PortRuleHTTP matches HTTP requests; empty fields match anything.
type PortRuleHTTP struct {
	// path is an extended POSIX regex matched against the request path.
	// +optional
	Path string `json:"path,omitempty"`
	// method is an extended POSIX regex matched against the request method.
	// +optional
	Method string `json:"method,omitempty"`
	// host is an extended POSIX regex matched against the Host header.
	// +optional
	Host string `json:"host,omitempty"`
	// headers is a list of "Name: value" headers that must be present.
	// +optional
	Headers []string `json:"headers,omitempty"`
}

// PortRuleDNS matches DNS queries.
type PortRuleDNS FQDNSelector

// ICMPRule lists ICMP types.
type ICMPRule struct {
	// +kubebuilder:validation:MaxItems=40
	// +optional
	Fields []ICMPField `json:"fields,omitempty"`
}

// ICMPField is an ICMP type (number or name) in a family.
type ICMPField struct {
	// +kubebuilder:validation:Enum=IPv4;IPv6
	// +kubebuilder:default=IPv4
	// +optional
	Family string `json:"family,omitempty"`
	// type is the ICMP type, a number 0..255 or a name such as EchoRequest.
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:Pattern=`^([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])$|^([A-Za-z]{1,23})$`
	Type *intstr.IntOrString `json:"type"`
}
