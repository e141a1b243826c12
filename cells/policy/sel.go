package policy

import (
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/hivenet/hivenet/cells/identity"
)

type selectorT = labels.Selector

// podsOnly matches label sets of pods (they all carry their namespace).
var podsOnly = func() labels.Selector {
	r, err := labels.NewRequirement(identity.PodNamespaceLabel, selection.Exists, nil)
	if err != nil {
		panic(err)
	}
	return labels.NewSelector().Add(*r)
}()
