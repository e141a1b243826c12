package crds_test

import (
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/hivenet/hivenet/cells/k8s/crds"
)

func TestEmbeddedCRDs(t *testing.T) {
	all, err := crds.All()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		scope    apiextensionsv1.ResourceScope
		versions string
	}{
		"CiliumNetworkPolicy":            {apiextensionsv1.NamespaceScoped, "v2*"},
		"CiliumClusterwideNetworkPolicy": {apiextensionsv1.ClusterScoped, "v2*"},
		"CiliumNode":                     {apiextensionsv1.ClusterScoped, "v2*"},
		"CiliumIdentity":                 {apiextensionsv1.ClusterScoped, "v2*"},
		"CiliumEndpoint":                 {apiextensionsv1.NamespaceScoped, "v2*"},
		"CiliumLoadBalancerIPPool":       {apiextensionsv1.ClusterScoped, "v2*,v2alpha1"},
		"CiliumL2AnnouncementPolicy":     {apiextensionsv1.ClusterScoped, "v2alpha1*"},
		"CiliumEgressGatewayPolicy":      {apiextensionsv1.ClusterScoped, "v2*"},
	}
	if len(all) != len(want) {
		t.Fatalf("got %d CRDs, want %d", len(all), len(want))
	}
	for _, c := range all {
		w, ok := want[c.Spec.Names.Kind]
		if !ok {
			t.Errorf("unexpected kind %s", c.Spec.Names.Kind)
			continue
		}
		if c.Spec.Group != "cilium.io" || c.Spec.Scope != w.scope {
			t.Errorf("%s: group %s scope %s", c.Name, c.Spec.Group, c.Spec.Scope)
		}
		var vs []string
		for _, v := range c.Spec.Versions {
			s := v.Name
			if v.Storage {
				s += "*"
			}
			if !v.Served {
				t.Errorf("%s %s not served", c.Name, v.Name)
			}
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				t.Errorf("%s %s has no schema", c.Name, v.Name)
			}
			vs = append(vs, s)
		}
		if got := strings.Join(vs, ","); got != w.versions {
			t.Errorf("%s versions %s, want %s", c.Name, got, w.versions)
		}
		if c.Name != c.Spec.Names.Plural+".cilium.io" {
			t.Errorf("CRD name %s does not match plural %s", c.Name, c.Spec.Names.Plural)
		}
		if _, err := crds.Manifest(c.Name); err != nil {
			t.Errorf("Manifest(%s): %v", c.Name, err)
		}
	}
}
