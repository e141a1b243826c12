package v2_test

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
)

// Example decodes a CiliumNetworkPolicy exactly as users write it.
func Example() {
	manifest := `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: l4-rule
  namespace: default
spec:
  endpointSelector:
    matchLabels:
      org: empire
      class: deathstar
  ingress:
  - fromEndpoints:
    - matchLabels:
        org: empire
    toPorts:
    - ports:
      - port: "80"
        protocol: TCP
  - fromCIDRSet:
    - cidr: 10.0.0.0/8
      except: [10.96.0.0/12]
  egressDeny:
  - toEntities: [world]
`
	var cnp v2.CiliumNetworkPolicy
	if err := yaml.UnmarshalStrict([]byte(manifest), &cnp); err != nil {
		panic(err)
	}
	for _, r := range cnp.Rules() {
		sel, err := r.EndpointSelector.Selector()
		if err != nil {
			panic(err)
		}
		fmt.Println("selects:", sel)
		fmt.Println("matches deathstar:", sel.Matches(labels.Set{"org": "empire", "class": "deathstar"}))
		fmt.Println("allow from:", r.Ingress[0].FromEndpoints[0].MatchLabels, "port", r.Ingress[0].ToPorts[0].Ports[0].Port)
		fmt.Println("allow cidr:", r.Ingress[1].FromCIDRSet[0].Cidr, "except", r.Ingress[1].FromCIDRSet[0].ExceptCIDRs)
		fmt.Println("deny to:", r.EgressDeny[0].ToEntities)
	}
	// Output:
	// selects: class=deathstar,org=empire
	// matches deathstar: true
	// allow from: map[org:empire] port 80
	// allow cidr: 10.0.0.0/8 except [10.96.0.0/12]
	// deny to: [world]
}
