package policy_test

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hivenet/hivenet/cells/identity"
	"github.com/hivenet/hivenet/cells/policy"
)

// A NetworkPolicy letting only app=client reach app=server, resolved into
// the server's entries and looked up as the datapath does.
func Example() {
	pod := func(id identity.ID, app string) *identity.Identity {
		return &identity.Identity{ID: id, Kind: identity.KindCluster,
			Labels: identity.PodLabels(map[string]string{"app": app}, "default", nil, "")}
	}
	server, client, other := pod(256, "server"), pod(257, "client"), pod(258, "other")

	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "allow-client", Namespace: "default"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
				{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "client"}}},
			}}},
		},
	}
	p, err := policy.FromNetworkPolicy(np)
	if err != nil {
		panic(err)
	}
	r := policy.NewResolver(policy.ModeDefault)
	for _, id := range []*identity.Identity{server, client, other} {
		r.UpsertIdentity(id)
	}
	r.SetPolicy(p.Name, p)
	r.AddSubject(server.ID)
	r.Resolve()
	res, _ := r.Result(server.ID)
	for _, from := range []*identity.Identity{client, other} {
		d, v := policy.Lookup(res.Entries, from.ID, policy.Ingress, policy.ProtoTCP, 80)
		fmt.Println(from.Labels.Selectable()["app"], d, v.Policies)
	}
	fmt.Println("default deny by", res.EnforcedBy[policy.Ingress])
	// Output:
	// client ALLOWED [NetworkPolicy default/allow-client]
	// other DENIED (default deny) []
	// default deny by [NetworkPolicy default/allow-client]
}
