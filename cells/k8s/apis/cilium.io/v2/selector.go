package v2

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// LabelSelector is Kubernetes' label selector with the validation Cilium's
// schemas put on it (label value syntax, operator names), so a malformed
// selector is refused by the API server instead of reaching a policy engine.
// An empty selector selects everything.
type LabelSelector struct {
	// matchLabels is a map of {key,value} pairs; each is an equality requirement.
	// +optional
	MatchLabels map[string]MatchLabelsValue `json:"matchLabels,omitempty"`
	// matchExpressions is a list of label selector requirements, ANDed.
	// +optional
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// MatchLabelsValue is a label value in matchLabels.
//
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:Pattern=`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`
type MatchLabelsValue string

// LabelSelectorRequirement is one key/operator/values requirement.
type LabelSelectorRequirement struct {
	// key is the label key that the selector applies to.
	Key string `json:"key"`
	// operator is a key's relationship to a set of values.
	// +kubebuilder:validation:Enum=In;NotIn;Exists;DoesNotExist
	Operator LabelSelectorOperator `json:"operator"`
	// values must be non-empty for In and NotIn and empty for Exists and DoesNotExist.
	// +optional
	Values []string `json:"values,omitempty"`
}

// LabelSelectorOperator is one of In, NotIn, Exists, DoesNotExist.
type LabelSelectorOperator string

// The selector operators, as in metav1.
const (
	LabelSelectorOpIn           LabelSelectorOperator = "In"
	LabelSelectorOpNotIn        LabelSelectorOperator = "NotIn"
	LabelSelectorOpExists       LabelSelectorOperator = "Exists"
	LabelSelectorOpDoesNotExist LabelSelectorOperator = "DoesNotExist"
)

// Meta returns the selector as a metav1.LabelSelector, the form the
// apimachinery label helpers take. A nil selector stays nil.
func (s *LabelSelector) Meta() *metav1.LabelSelector {
	if s == nil {
		return nil
	}
	out := &metav1.LabelSelector{}
	if len(s.MatchLabels) > 0 {
		out.MatchLabels = make(map[string]string, len(s.MatchLabels))
		for k, v := range s.MatchLabels {
			out.MatchLabels[k] = string(v)
		}
	}
	for _, r := range s.MatchExpressions {
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{
			Key:      r.Key,
			Operator: metav1.LabelSelectorOperator(r.Operator),
			Values:   append([]string(nil), r.Values...),
		})
	}
	return out
}

// Selector parses the selector into a labels.Selector. A nil selector selects
// nothing and an empty one everything, as metav1.LabelSelectorAsSelector does.
// The error names the offending requirement.
func (s *LabelSelector) Selector() (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(s.Meta())
}
