package v2_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
)

func TestLabelSelector(t *testing.T) {
	var nilSel *v2.LabelSelector
	if s, err := nilSel.Selector(); err != nil || s.Matches(labels.Set{"a": "b"}) || s.Matches(labels.Set{}) {
		t.Errorf("nil selector must select nothing: %v %v", s, err)
	}
	if s, err := (&v2.LabelSelector{}).Selector(); err != nil || !s.Matches(labels.Set{"a": "b"}) {
		t.Errorf("empty selector must select everything: %v %v", s, err)
	}
	sel := &v2.LabelSelector{
		MatchLabels: map[string]v2.MatchLabelsValue{"app": "web"},
		MatchExpressions: []v2.LabelSelectorRequirement{
			{Key: "tier", Operator: v2.LabelSelectorOpIn, Values: []string{"a", "b"}},
			{Key: "legacy", Operator: v2.LabelSelectorOpDoesNotExist},
		},
	}
	s, err := sel.Selector()
	if err != nil {
		t.Fatal(err)
	}
	for set, want := range map[string]bool{
		"app=web,tier=a":           true,
		"app=web,tier=c":           false,
		"app=web,tier=b,legacy=on": false,
		"tier=a":                   false,
	} {
		ls, _ := labels.ConvertSelectorToLabelsMap(set)
		if got := s.Matches(ls); got != want {
			t.Errorf("%s: matches=%v, want %v", set, got, want)
		}
	}
	bad := &v2.LabelSelector{MatchExpressions: []v2.LabelSelectorRequirement{{Key: "x", Operator: v2.LabelSelectorOpIn}}}
	if _, err := bad.Selector(); err == nil {
		t.Error("In without values accepted")
	}
}

func TestRulesJoinsSpecAndSpecs(t *testing.T) {
	p := &v2.CiliumNetworkPolicy{Spec: &v2.Rule{Description: "one"}, Specs: []v2.Rule{{Description: "two"}, {Description: "three"}}}
	got := p.Rules()
	if len(got) != 3 || got[0].Description != "one" || got[2].Description != "three" {
		t.Errorf("Rules() = %+v", got)
	}
	if n := len((&v2.CiliumClusterwideNetworkPolicy{}).Rules()); n != 0 {
		t.Errorf("empty policy has %d rules", n)
	}
}
