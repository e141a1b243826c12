package v2

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// CiliumNetworkPolicy is a namespaced Cilium policy: one rule in spec, or
// several in specs (both may be set; all rules apply).
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories={cilium,ciliumpolicy},singular="ciliumnetworkpolicy",path="ciliumnetworkpolicies",scope="Namespaced",shortName={cnp,ciliumnp}
// +kubebuilder:printcolumn:JSONPath=".metadata.creationTimestamp",name="Age",type=date
// +kubebuilder:printcolumn:JSONPath=".status.conditions[?(@.type=='Valid')].status",name="Valid",type=string
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
type CiliumNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	// spec is the policy rule.
	// +optional
	Spec *Rule `json:"spec,omitempty"`
	// specs is a list of policy rules, all applied.
	// +optional
	Specs []Rule `json:"specs,omitempty"`
	// status says whether the policy is valid and applied.
	// +optional
	Status CiliumNetworkPolicyStatus `json:"status,omitempty"`
}

// Rules returns spec and specs as one list.
func (p *CiliumNetworkPolicy) Rules() []Rule {
	return joinRules(p.Spec, p.Specs)
}

func joinRules(spec *Rule, specs []Rule) []Rule {
	out := make([]Rule, 0, len(specs)+1)
	if spec != nil {
		out = append(out, *spec)
	}
	return append(out, specs...)
}

// CiliumNetworkPolicyStatus is the status of a CiliumNetworkPolicy or
// CiliumClusterwideNetworkPolicy.
type CiliumNetworkPolicyStatus struct {
	// conditions report validity ("Valid") and enforcement problems.
	// +optional
	Conditions []NetworkPolicyCondition `json:"conditions,omitempty"`
}

// PolicyConditionType is the type of a policy status condition.
type PolicyConditionType string

// PolicyConditionValid reports whether the policy parsed and validated.
const PolicyConditionValid PolicyConditionType = "Valid"

// NetworkPolicyCondition is one status condition on a policy.
type NetworkPolicyCondition struct {
	// type of the condition, e.g. Valid.
	Type PolicyConditionType `json:"type"`
	// status of the condition: True, False or Unknown.
	Status metav1.ConditionStatus `json:"status"`
	// lastTransitionTime is when the status last changed.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
	// reason is a CamelCase word for the last transition.
	// +optional
	Reason string `json:"reason,omitempty"`
	// message is a human-readable explanation.
	// +optional
	Message string `json:"message,omitempty"`
}

// CiliumNetworkPolicyList is a list of CiliumNetworkPolicy.
//
// +kubebuilder:object:root=true
type CiliumNetworkPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []CiliumNetworkPolicy `json:"items"`
}

// CiliumClusterwideNetworkPolicy is a cluster-scoped Cilium policy; its rules
// may select endpoints in every namespace, or nodes.
//
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories={cilium,ciliumpolicy},singular="ciliumclusterwidenetworkpolicy",path="ciliumclusterwidenetworkpolicies",scope="Cluster",shortName={ccnp}
// +kubebuilder:printcolumn:JSONPath=".metadata.creationTimestamp",name="Age",type=date
// +kubebuilder:printcolumn:JSONPath=".status.conditions[?(@.type=='Valid')].status",name="Valid",type=string
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
type CiliumClusterwideNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	// +optional
	Spec *Rule `json:"spec,omitempty"`
	// +optional
	Specs []Rule `json:"specs,omitempty"`
	// +optional
	Status CiliumNetworkPolicyStatus `json:"status,omitempty"`
}

// Rules returns spec and specs as one list.
func (p *CiliumClusterwideNetworkPolicy) Rules() []Rule {
	return joinRules(p.Spec, p.Specs)
}

// CiliumClusterwideNetworkPolicyList is a list of CiliumClusterwideNetworkPolicy.
//
// +kubebuilder:object:root=true
type CiliumClusterwideNetworkPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []CiliumClusterwideNetworkPolicy `json:"items"`
}
