package v2alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
)

// CiliumL2AnnouncementPolicy makes the selected nodes answer ARP (and NDP)
// for the LoadBalancer and external IPs of the selected services, on the
// interfaces it names, so the IPs are reachable on the local L2 segment.
//
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories={cilium},singular="ciliuml2announcementpolicy",path="ciliuml2announcementpolicies",scope="Cluster",shortName={l2announcement}
// +kubebuilder:printcolumn:JSONPath=".metadata.creationTimestamp",name="Age",type=date
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
type CiliumL2AnnouncementPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	Spec CiliumL2AnnouncementPolicySpec `json:"spec,omitempty"`
	// +optional
	Status CiliumL2AnnouncementPolicyStatus `json:"status,omitempty"`
}

// CiliumL2AnnouncementPolicySpec says which nodes announce which services'
// IPs on which interfaces.
type CiliumL2AnnouncementPolicySpec struct {
	// nodeSelector selects the nodes that may announce; unset selects all.
	// +optional
	NodeSelector *v2.LabelSelector `json:"nodeSelector,omitempty"`
	// serviceSelector selects the services announced; unset selects all.
	// +optional
	ServiceSelector *v2.LabelSelector `json:"serviceSelector,omitempty"`
	// loadBalancerIPs announces status.loadBalancer.ingress IPs.
	// +optional
	LoadBalancerIPs bool `json:"loadBalancerIPs,omitempty"`
	// externalIPs announces spec.externalIPs.
	// +optional
	ExternalIPs bool `json:"externalIPs,omitempty"`
	// interfaces are regular expressions of the interface names to announce
	// on; empty means every interface.
	// +optional
	Interfaces []string `json:"interfaces,omitempty"`
}

// CiliumL2AnnouncementPolicyStatus holds the policy's conditions.
type CiliumL2AnnouncementPolicyStatus struct {
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// CiliumL2AnnouncementPolicyList is a list of CiliumL2AnnouncementPolicy.
//
// +kubebuilder:object:root=true
type CiliumL2AnnouncementPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []CiliumL2AnnouncementPolicy `json:"items"`
}
