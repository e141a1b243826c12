package policy

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/hivenet/hivenet/cells/identity"
)

// selectorFrom converts a label selector into a labels.Selector over
// identity labels, with keyPrefix put before every key (namespace labels
// are io.cilium.k8s.namespace.labels.<key> on identities) and Cilium's
// source prefixes ("k8s:", "any:") removed. A nil selector is nil.
func selectorFrom(s *metav1.LabelSelector, keyPrefix string) (labels.Selector, error) {
	if s == nil {
		return nil, nil
	}
	sel := labels.NewSelector()
	add := func(key string, op selection.Operator, vals []string) error {
		key, err := stripSource(key)
		if err != nil {
			return err
		}
		r, err := labels.NewRequirement(keyPrefix+key, op, vals)
		if err != nil {
			return err
		}
		sel = sel.Add(*r)
		return nil
	}
	for k, v := range s.MatchLabels {
		if err := add(k, selection.Equals, []string{v}); err != nil {
			return nil, fmt.Errorf("matchLabels[%s]: %w", k, err)
		}
	}
	for i, e := range s.MatchExpressions {
		var op selection.Operator
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			op = selection.In
		case metav1.LabelSelectorOpNotIn:
			op = selection.NotIn
		case metav1.LabelSelectorOpExists:
			op = selection.Exists
		case metav1.LabelSelectorOpDoesNotExist:
			op = selection.DoesNotExist
		default:
			return nil, fmt.Errorf("matchExpressions[%d].operator: %q is not one of In, NotIn, Exists, DoesNotExist", i, e.Operator)
		}
		if err := add(e.Key, op, e.Values); err != nil {
			return nil, fmt.Errorf("matchExpressions[%d]: %w", i, err)
		}
	}
	return sel, nil
}

// stripSource removes a k8s: or any: source prefix; other sources cannot be
// selected by labels (reserved identities are selected by entities).
func stripSource(key string) (string, error) {
	src, rest, ok := strings.Cut(key, ":")
	if !ok {
		return key, nil
	}
	switch src {
	case "k8s", "any":
		return rest, nil
	case "reserved":
		return "", fmt.Errorf("key %q: reserved identities are selected with fromEntities/toEntities, not labels", key)
	}
	return "", fmt.Errorf("key %q: label source %q is not supported (use k8s: or any:)", key, src)
}

// namespaceIs is the requirement io.kubernetes.pod.namespace == ns.
func namespaceIs(ns string) labels.Requirement {
	r, err := labels.NewRequirement(identity.PodNamespaceLabel, selection.Equals, []string{ns})
	if err != nil {
		// ns is a namespace name taken from an API object: always valid.
		panic(err)
	}
	return *r
}

// hasKey reports whether the selector constrains key.
func hasKey(s labels.Selector, key string) bool {
	reqs, _ := s.Requirements()
	for _, r := range reqs {
		if r.Key() == key {
			return true
		}
	}
	return false
}
