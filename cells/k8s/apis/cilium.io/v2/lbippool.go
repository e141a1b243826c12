package v2

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// CiliumLoadBalancerIPPool is a pool of IPs that LB IPAM assigns to Services
// of type LoadBalancer whose labels match serviceSelector.
//
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories={cilium},singular="ciliumloadbalancerippool",path="ciliumloadbalancerippools",scope="Cluster",shortName={ippools,ippool,lbippool,lbippools}
// +kubebuilder:printcolumn:JSONPath=".spec.disabled",name="Disabled",type=boolean
// +kubebuilder:printcolumn:name="Conflicting",type=string,JSONPath=`.status.conditions[?(@.type=="cilium.io/PoolConflict")].status`
// +kubebuilder:printcolumn:name="IPs Available",type=string,JSONPath=`.status.conditions[?(@.type=="cilium.io/IPsAvailable")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
type CiliumLoadBalancerIPPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	// spec is the pool's blocks and which services it serves.
	Spec CiliumLoadBalancerIPPoolSpec `json:"spec"`
	// status reports conflicts and how many IPs are left.
	// +optional
	Status CiliumLoadBalancerIPPoolStatus `json:"status,omitempty"`
}

// CiliumLoadBalancerIPPoolSpec is the pool's definition.
type CiliumLoadBalancerIPPoolSpec struct {
	// serviceSelector selects the services this pool serves; unset selects all.
	// +optional
	ServiceSelector *LabelSelector `json:"serviceSelector,omitempty"`
	// allowFirstLastIPs says whether the first and last IP of each CIDR may
	// be assigned (Yes or No).
	// +optional
	AllowFirstLastIPs AllowFirstLastIPType `json:"allowFirstLastIPs,omitempty"`
	// cidrs is the deprecated name of blocks; both are read.
	// +optional
	Cidrs []CiliumLoadBalancerIPPoolIPBlock `json:"cidrs,omitempty"`
	// blocks are the CIDRs or start-stop ranges the pool hands out.
	// +optional
	Blocks []CiliumLoadBalancerIPPoolIPBlock `json:"blocks,omitempty"`
	// disabled pools assign no new IPs; existing assignments stay.
	// +optional
	// +kubebuilder:default=false
	Disabled bool `json:"disabled"`
}

// AllowFirstLastIPType is Yes or No.
//
// +kubebuilder:validation:Enum=Yes;No
type AllowFirstLastIPType string

// The values of allowFirstLastIPs.
const (
	AllowFirstLastIPNo  AllowFirstLastIPType = "No"
	AllowFirstLastIPYes AllowFirstLastIPType = "Yes"
)

// CiliumLoadBalancerIPPoolIPBlock is either a CIDR or a start-stop range.
type CiliumLoadBalancerIPPoolIPBlock struct {
	// +optional
	Cidr IPv4orIPv6CIDR `json:"cidr,omitempty"`
	// +optional
	Start string `json:"start,omitempty"`
	// +optional
	Stop string `json:"stop,omitempty"`
}

// IPv4orIPv6CIDR is an IPv4 or IPv6 prefix.
//
// +kubebuilder:validation:Format=cidr
type IPv4orIPv6CIDR string

// CiliumLoadBalancerIPPoolStatus holds the pool's conditions.
type CiliumLoadBalancerIPPoolStatus struct {
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Condition types LB IPAM sets on a pool.
const (
	PoolConditionConflict     = "cilium.io/PoolConflict"
	PoolConditionIPsAvailable = "cilium.io/IPsAvailable"
)

// CiliumLoadBalancerIPPoolList is a list of CiliumLoadBalancerIPPool.
//
// +kubebuilder:object:root=true
type CiliumLoadBalancerIPPoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []CiliumLoadBalancerIPPool `json:"items"`
}
