package v2

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// WireguardPubKeyAnnotation is the CiliumNode annotation that carries the
// node's WireGuard public key (base64), as Cilium publishes it.
const WireguardPubKeyAnnotation = "network.cilium.io/wg-pub-key"

// CiliumNode is a node as the networking agent sees it: its addresses, pod
// CIDRs, health and encryption settings. Each agent owns the CiliumNode named
// after its node.
//
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories={cilium},singular="ciliumnode",path="ciliumnodes",scope="Cluster",shortName={cn,ciliumn}
// +kubebuilder:printcolumn:JSONPath=".spec.addresses[?(@.type=='CiliumInternalIP')].ip",name="CiliumInternalIP",type=string
// +kubebuilder:printcolumn:JSONPath=".spec.addresses[?(@.type=='InternalIP')].ip",name="InternalIP",type=string
// +kubebuilder:printcolumn:JSONPath=".metadata.creationTimestamp",name="Age",type=date
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
type CiliumNode struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	// spec is the node's desired configuration.
	Spec NodeSpec `json:"spec"`
	// status is what the agent and operator observe about the node.
	// +optional
	Status NodeStatus `json:"status,omitempty"`
}

// NodeSpec describes a node's addressing.
type NodeSpec struct {
	// instance-id is the cloud instance ID of the node, if any.
	// +optional
	InstanceID string `json:"instance-id,omitempty"`
	// bootid changes when the node reboots.
	// +optional
	BootID string `json:"bootid,omitempty"`
	// addresses are the node's IP addresses by type
	// (InternalIP, ExternalIP, CiliumInternalIP).
	// +optional
	Addresses []NodeAddress `json:"addresses,omitempty"`
	// health holds the addresses of the node's health endpoint.
	// +optional
	HealthAddressing HealthAddressingSpec `json:"health,omitempty"`
	// ingress holds the addresses of the node's ingress endpoint.
	// +optional
	IngressAddressing AddressPair `json:"ingress,omitempty"`
	// encryption is the node's encryption settings.
	// +optional
	Encryption EncryptionSpec `json:"encryption,omitempty"`
	// ipam is the node's IP address management.
	// +optional
	IPAM IPAMSpec `json:"ipam,omitempty"`
	// nodeidentity is the numeric identity of the node.
	// +optional
	NodeIdentity uint64 `json:"nodeidentity,omitempty"`
}

// AddressType is the type of a node address.
type AddressType string

// The address types hivenet publishes on a CiliumNode.
const (
	NodeInternalIP  AddressType = "InternalIP"
	NodeExternalIP  AddressType = "ExternalIP"
	NodeCiliumIntIP AddressType = "CiliumInternalIP"
	NodeHostName    AddressType = "Hostname"
	NodeInternalDNS AddressType = "InternalDNS"
	NodeExternalDNS AddressType = "ExternalDNS"
)

// NodeAddress is one address of a node.
type NodeAddress struct {
	// +optional
	Type AddressType `json:"type,omitempty"`
	// +optional
	IP string `json:"ip,omitempty"`
}

// HealthAddressingSpec is the address pair of a node's health endpoint.
type HealthAddressingSpec struct {
	// +optional
	IPv4 string `json:"ipv4,omitempty"`
	// +optional
	IPv6 string `json:"ipv6,omitempty"`
}

// AddressPair is an IPv4 and IPv6 address pair.
type AddressPair struct {
	// +optional
	IPV4 string `json:"ipv4,omitempty"`
	// +optional
	IPV6 string `json:"ipv6,omitempty"`
}

// EncryptionSpec is a node's or endpoint's encryption settings.
type EncryptionSpec struct {
	// key is the index of the encryption key in use (0: none).
	// +optional
	Key int `json:"key,omitempty"`
}

// IPAMSpec is a node's IP address management settings.
type IPAMSpec struct {
	// podCIDRs are the prefixes pods on this node take their IPs from.
	// +optional
	PodCIDRs []string `json:"podCIDRs,omitempty"`
	// pool is the set of IPs available for allocation (cluster-pool modes).
	// +optional
	Pool map[string]AllocationIP `json:"pool,omitempty"`
	// +optional
	MinAllocate int `json:"min-allocate,omitempty"`
	// +optional
	MaxAllocate int `json:"max-allocate,omitempty"`
	// +optional
	PreAllocate int `json:"pre-allocate,omitempty"`
	// +optional
	MaxAboveWatermark int `json:"max-above-watermark,omitempty"`
}

// AllocationIP is an IP available for allocation, or the owner of an allocated one.
type AllocationIP struct {
	// +optional
	Owner string `json:"owner,omitempty"`
	// +optional
	Resource string `json:"resource,omitempty"`
}

// NodeStatus is what is observed about a node.
type NodeStatus struct {
	// ipam is the observed IPAM state.
	// +optional
	IPAM IPAMStatus `json:"ipam,omitempty"`
}

// IPAMStatus is the observed IPAM state of a node.
type IPAMStatus struct {
	// used lists the allocated IPs and their owners.
	// +optional
	Used map[string]AllocationIP `json:"used,omitempty"`
	// operator-status is the operator's view of the node's IPAM.
	// +optional
	OperatorStatus OperatorStatus `json:"operator-status,omitempty"`
}

// OperatorStatus is the operator's status for a node.
type OperatorStatus struct {
	// error is the last error the operator hit for this node.
	// +optional
	Error string `json:"error,omitempty"`
}

// CiliumNodeList is a list of CiliumNode.
//
// +kubebuilder:object:root=true
type CiliumNodeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []CiliumNode `json:"items"`
}
