package v2

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// CiliumEgressGatewayPolicy steers traffic from selected pods to selected
// destinations out through a gateway node, SNATed to an egress IP.
//
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories={cilium},singular="ciliumegressgatewaypolicy",path="ciliumegressgatewaypolicies",scope="Cluster",shortName={cegp}
// +kubebuilder:printcolumn:JSONPath=".metadata.creationTimestamp",name="Age",type=date
// +kubebuilder:storageversion
type CiliumEgressGatewayPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	Spec CiliumEgressGatewayPolicySpec `json:"spec"`
}

// CiliumEgressGatewayPolicySpec says which traffic leaves through which gateway.
type CiliumEgressGatewayPolicySpec struct {
	// selectors pick the source pods; a pod matching any selector is subject
	// to the policy.
	Selectors []EgressGatewaySelector `json:"selectors"`
	// destinationCIDRs are the destinations the policy applies to.
	// +kubebuilder:validation:MinItems=1
	DestinationCIDRs []CIDR `json:"destinationCIDRs"`
	// excludedCIDRs are destinations inside destinationCIDRs left alone.
	// +optional
	ExcludedCIDRs []CIDR `json:"excludedCIDRs,omitempty"`
	// egressGateway is the gateway node and egress IP.
	// +optional
	EgressGateway *EgressGateway `json:"egressGateway,omitempty"`
	// egressGateways lists several gateways; traffic is spread over them.
	// +optional
	EgressGateways []EgressGateway `json:"egressGateways,omitempty"`
}

// EgressGatewaySelector selects source pods by namespace, pod and node labels
// (ANDed). Its JSON shape is Cilium's egress gateway "EgressRule".
type EgressGatewaySelector struct {
	// +optional
	NamespaceSelector *LabelSelector `json:"namespaceSelector,omitempty"`
	// +optional
	PodSelector *LabelSelector `json:"podSelector,omitempty"`
	// +optional
	NodeSelector *LabelSelector `json:"nodeSelector,omitempty"`
}

// EgressGateway selects a gateway node and the egress IP (or the interface
// whose first IP is used).
type EgressGateway struct {
	NodeSelector *LabelSelector `json:"nodeSelector"`
	// +optional
	Interface string `json:"interface,omitempty"`
	// +kubebuilder:validation:Format=ipv4
	// +optional
	EgressIP string `json:"egressIP,omitempty"`
}

// CiliumEgressGatewayPolicyList is a list of CiliumEgressGatewayPolicy.
//
// +kubebuilder:object:root=true
type CiliumEgressGatewayPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []CiliumEgressGatewayPolicy `json:"items"`
}
