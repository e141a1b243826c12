package policy

import (
	"fmt"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hivenet/hivenet/cells/identity"
)

// The scale of the benchmark: 1k policies over 10k endpoints with
// 2k identities, in 20 namespaces.
const (
	benchNamespaces = 20
	benchIdentities = 2000
	benchEndpoints  = 10000
	benchPolicies   = 1000
	benchApps       = benchIdentities / benchNamespaces
)

func benchIdentity(i int) *identity.Identity {
	ns := fmt.Sprintf("ns-%d", i%benchNamespaces)
	app := fmt.Sprintf("app-%d", i/benchNamespaces)
	l := identity.PodLabels(map[string]string{"app": app, "tier": fmt.Sprintf("t%d", i%3)}, ns,
		map[string]string{"kubernetes.io/metadata.name": ns, "team": fmt.Sprintf("team-%d", i%5)}, "default")
	return &identity.Identity{ID: identity.ID(256 + i), Kind: identity.KindCluster, Labels: l}
}

// benchPolicy selects one app in a namespace and allows it from another
// app of the namespace and from a team's namespaces, on two ports.
func benchPolicy(i int) *Policy {
	ns := fmt.Sprintf("ns-%d", i%benchNamespaces)
	port := func(p int32) networkingv1.NetworkPolicyPort {
		v := intstr.FromInt32(p)
		return networkingv1.NetworkPolicyPort{Port: &v}
	}
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d", i), Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("app-%d", i%benchApps)}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{
					{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("app-%d", (i+1)%benchApps)}}},
					{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": fmt.Sprintf("team-%d", i%5)}},
						PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "t0"}}},
				},
				Ports: []networkingv1.NetworkPolicyPort{port(80), port(443)},
			}},
		},
	}
	p, err := FromNetworkPolicy(np)
	if err != nil {
		panic(err)
	}
	return p
}

func benchResolver() *Resolver {
	r := NewResolver(ModeDefault)
	for _, id := range identity.Reserved() {
		r.UpsertIdentity(id)
	}
	for i := range benchIdentities {
		r.UpsertIdentity(benchIdentity(i))
	}
	for i := range benchPolicies {
		p := benchPolicy(i)
		r.SetPolicy(p.Name, p)
	}
	for i := range benchEndpoints {
		r.AddSubject(identity.ID(256 + i%benchIdentities))
	}
	return r
}

func countEntries(r *Resolver) int {
	n := 0
	for _, res := range r.results {
		n += len(res.Entries)
	}
	return n
}

// BenchmarkResolveAll: from nothing resolved to every identity's entries.
func BenchmarkResolveAll(b *testing.B) {
	var entries int
	for b.Loop() {
		b.StopTimer()
		r := benchResolver()
		b.StartTimer()
		r.Resolve()
		b.StopTimer()
		entries = countEntries(r)
		b.StartTimer()
	}
	b.ReportMetric(float64(entries), "entries")
	b.ReportMetric(float64(benchIdentities), "identities")
}

// BenchmarkLabelChange: one pod's labels change (it moves to a new
// identity and back); only the identities whose result can change are
// recomputed.
func BenchmarkLabelChange(b *testing.B) {
	r := benchResolver()
	r.Resolve()
	moved := benchIdentity(7)
	newID := &identity.Identity{ID: 256 + benchIdentities, Kind: identity.KindCluster, Labels: benchIdentity(8).Labels}
	// A fresh label set (app of identity 8, tier changed) gets a new
	// identity, as the allocator would.
	l := identity.Labels{}
	for k, v := range newID.Labels {
		l[k] = v
	}
	l["k8s:tier"] = "t0"
	newID.Labels = l
	recomputed := 0
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			r.UpsertIdentity(newID)
			r.RemoveSubject(moved.ID)
			r.AddSubject(newID.ID)
		} else {
			r.RemoveSubject(newID.ID)
			r.DeleteIdentity(newID.ID)
			r.AddSubject(moved.ID)
		}
		recomputed += len(r.Resolve())
		i++
	}
	b.ReportMetric(float64(recomputed)/float64(i), "identities-recomputed/op")
}
