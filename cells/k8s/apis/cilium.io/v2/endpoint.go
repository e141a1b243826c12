package v2

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// CiliumEndpoint publishes one local endpoint (a pod) to the cluster: its
// identity, addresses and node, so other nodes can fill their ipcache.
// It has the name and namespace of the pod.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories={cilium},singular="ciliumendpoint",path="ciliumendpoints",scope="Namespaced",shortName={cep,ciliumep}
// +kubebuilder:printcolumn:JSONPath=".status.identity.id",name="Security Identity",type=integer
// +kubebuilder:printcolumn:JSONPath=".status.state",name="Endpoint State",type=string
// +kubebuilder:printcolumn:JSONPath=".status.networking.addressing[0].ipv4",name="IPv4",type=string
// +kubebuilder:printcolumn:JSONPath=".status.networking.addressing[0].ipv6",name="IPv6",type=string
// +kubebuilder:storageversion
type CiliumEndpoint struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	// +optional
	Status EndpointStatus `json:"status,omitempty"`
}

// EndpointStatus is the published state of an endpoint.
type EndpointStatus struct {
	// id is the endpoint's local ID on its node.
	// +optional
	ID int64 `json:"id,omitempty"`
	// identity is the endpoint's security identity.
	// +optional
	Identity *EndpointIdentity `json:"identity,omitempty"`
	// networking is the endpoint's addressing and node.
	// +optional
	Networking *EndpointNetworking `json:"networking,omitempty"`
	// encryption is the endpoint's encryption settings.
	// +optional
	Encryption EncryptionSpec `json:"encryption,omitempty"`
	// policy is the endpoint's enforcement state.
	// +optional
	Policy *EndpointPolicy `json:"policy,omitempty"`
	// state is the endpoint's lifecycle state, e.g. ready.
	// +optional
	State string `json:"state,omitempty"`
	// named-ports are the pod's container ports that have names.
	// +optional
	NamedPorts []NamedPort `json:"named-ports,omitempty"`
	// service-account is the pod's service account.
	// +optional
	ServiceAccount string `json:"service-account,omitempty"`
}

// EndpointIdentity is an endpoint's security identity.
type EndpointIdentity struct {
	// +optional
	ID int64 `json:"id,omitempty"`
	// +optional
	Labels []string `json:"labels,omitempty"`
}

// EndpointNetworking is an endpoint's addresses and node.
type EndpointNetworking struct {
	Addressing []AddressPair `json:"addressing"`
	// node is the IP of the node hosting the endpoint.
	// +optional
	NodeIP string `json:"node,omitempty"`
}

// EndpointPolicy is an endpoint's enforcement per direction.
type EndpointPolicy struct {
	// +optional
	Ingress *EndpointPolicyDirection `json:"ingress,omitempty"`
	// +optional
	Egress *EndpointPolicyDirection `json:"egress,omitempty"`
}

// EndpointPolicyDirection is enforcement in one direction.
type EndpointPolicyDirection struct {
	Enforcing bool `json:"enforcing"`
	// +optional
	State string `json:"state,omitempty"`
}

// NamedPort is a named container port.
type NamedPort struct {
	// +optional
	Name string `json:"name,omitempty"`
	// +optional
	Port uint16 `json:"port,omitempty"`
	// +optional
	Protocol string `json:"protocol,omitempty"`
}

// CiliumEndpointList is a list of CiliumEndpoint.
//
// +kubebuilder:object:root=true
type CiliumEndpointList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []CiliumEndpoint `json:"items"`
}
