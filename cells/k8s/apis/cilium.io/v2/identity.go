package v2

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// CiliumIdentity is a cluster-wide security identity. Its name is the numeric
// identity (256 and up) and security-labels are the labels it stands for;
// creating one with a taken name fails, which is how agents race for numbers.
//
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories={cilium},singular="ciliumidentity",path="ciliumidentities",scope="Cluster",shortName={ciliumid}
// +kubebuilder:printcolumn:JSONPath=".metadata.labels.io\\.kubernetes\\.pod\\.namespace",name="Namespace",type=string
// +kubebuilder:printcolumn:JSONPath=".metadata.creationTimestamp",name="Age",type=date
// +kubebuilder:storageversion
type CiliumIdentity struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	// security-labels are the source-prefixed labels ("k8s:app=web") that
	// make up the identity.
	SecurityLabels map[string]string `json:"security-labels"`
}

// CiliumIdentityList is a list of CiliumIdentity.
//
// +kubebuilder:object:root=true
type CiliumIdentityList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []CiliumIdentity `json:"items"`
}
