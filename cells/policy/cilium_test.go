package policy

import (
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/hivenet/hivenet/cells/identity"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
)

func TestCiliumNetworkPolicyTruthTables(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mode     Mode
		policies []string
		proto    uint8
		port     uint16
		want     func(src, dst string) bool
	}{
		{
			name: "L3/L4 allow from endpoints to port 80",
			policies: []string{`
kind: CiliumNetworkPolicy
metadata: {name: l4, namespace: x}
spec:
  endpointSelector: {matchLabels: {pod: a}}
  ingress:
  - fromEndpoints: [{matchLabels: {pod: b}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]`},
			proto: tcp, port: 80,
			// fromEndpoints of a namespaced policy is in its namespace.
			want: func(s, d string) bool { return d != "x/a" || s == "x/b" },
		},
		{
			name: "L3/L4 allow: other ports dropped",
			policies: []string{`
kind: CiliumNetworkPolicy
metadata: {name: l4, namespace: x}
spec:
  endpointSelector: {matchLabels: {pod: a}}
  ingress:
  - fromEndpoints: [{matchLabels: {pod: b}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]`},
			proto: tcp, port: 81,
			want: func(s, d string) bool { return d != "x/a" },
		},
		{
			name: "fromEndpoints naming the namespace reaches across",
			policies: []string{`
kind: CiliumNetworkPolicy
metadata: {name: cross, namespace: x}
spec:
  endpointSelector: {matchLabels: {pod: a}}
  ingress:
  - fromEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": z}}]`},
			proto: udp, port: 81,
			want: func(s, d string) bool { return d != "x/a" || nsOf(s) == "z" },
		},
		{
			name: "deny beats allow",
			policies: []string{`
kind: CiliumNetworkPolicy
metadata: {name: allow-all-x, namespace: x}
spec:
  endpointSelector: {}
  ingress: [{fromEntities: [all]}]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {pod: c}}]
    toPorts: [{ports: [{port: "80"}]}]`},
			proto: tcp, port: 80,
			want: func(s, d string) bool { return nsOf(d) != "x" || s != "x/c" },
		},
		{
			name: "deny of one port leaves the others",
			policies: []string{`
kind: CiliumNetworkPolicy
metadata: {name: allow-all-x, namespace: x}
spec:
  endpointSelector: {}
  ingress: [{fromEntities: [all]}]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {pod: c}}]
    toPorts: [{ports: [{port: "80"}]}]`},
			proto: tcp, port: 81, want: everything,
		},
		{
			name: "deny in a second policy beats an allow of a narrower port",
			policies: []string{`
kind: CiliumNetworkPolicy
metadata: {name: allow-80, namespace: x}
spec:
  endpointSelector: {matchLabels: {pod: a}}
  ingress: [{fromEndpoints: [{}], toPorts: [{ports: [{port: "80", protocol: TCP}]}]}]`, `
kind: CiliumNetworkPolicy
metadata: {name: deny-range, namespace: x}
spec:
  endpointSelector: {matchLabels: {pod: a}}
  enableDefaultDeny: {ingress: false}
  ingressDeny: [{fromEndpoints: [{matchLabels: {pod: b}}], toPorts: [{ports: [{port: "64", endPort: 127, protocol: TCP}]}]}]`},
			proto: tcp, port: 80,
			want: func(s, d string) bool { return d != "x/a" || nsOf(s) == "x" && s != "x/b" },
		},
		{
			name: "egress to the cluster entity",
			policies: []string{`
kind: CiliumNetworkPolicy
metadata: {name: egress-cluster, namespace: x}
spec:
  endpointSelector: {}
  egress: [{toEntities: [cluster]}]`},
			proto: udp, port: 80, want: everything,
		},
		{
			name: "egress to the world entity only",
			policies: []string{`
kind: CiliumNetworkPolicy
metadata: {name: egress-world, namespace: x}
spec:
  endpointSelector: {}
  egress: [{toEntities: [world]}]`},
			proto: udp, port: 80,
			want: func(s, d string) bool { return nsOf(s) != "x" },
		},
		{
			name: "clusterwide policy applies to every namespace",
			policies: []string{`
kind: CiliumClusterwideNetworkPolicy
metadata: {name: only-from-a}
spec:
  endpointSelector: {matchLabels: {pod: b}}
  ingress: [{fromEndpoints: [{matchLabels: {pod: a}}]}]`},
			proto: tcp, port: 80,
			// Clusterwide peers are not restricted to a namespace either.
			want: func(s, d string) bool { return podOf(d) != "b" || podOf(s) == "a" },
		},
		{
			name: "enableDefaultDeny false only adds",
			policies: []string{`
kind: CiliumNetworkPolicy
metadata: {name: no-default-deny, namespace: x}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: false, egress: false}
  ingress: [{fromEndpoints: [{matchLabels: {pod: b}}]}]`},
			proto: tcp, port: 80, want: everything,
		},
		{
			name: "empty ingress rule is default deny",
			policies: []string{`
kind: CiliumNetworkPolicy
metadata: {name: lockdown, namespace: z}
spec:
  endpointSelector: {}
  ingress: [{}]`},
			proto: tcp, port: 80,
			want: func(s, d string) bool { return nsOf(d) != "z" },
		},
		{
			name: "enable-policy=always drops what nothing allows",
			mode: ModeAlways,
			policies: []string{`
kind: CiliumNetworkPolicy
metadata: {name: x-internal, namespace: x}
spec:
  endpointSelector: {}
  ingress: [{fromEndpoints: [{}]}]
  egress: [{toEndpoints: [{}]}]`},
			proto: tcp, port: 80,
			want: func(s, d string) bool { return nsOf(s) == "x" && nsOf(d) == "x" },
		},
		{
			name: "enable-policy=never enforces nothing",
			mode: ModeNever,
			policies: []string{`
kind: CiliumNetworkPolicy
metadata: {name: lockdown, namespace: x}
spec:
  endpointSelector: {}
  ingress: [{}]
  egressDeny: [{toEntities: [all]}]`},
			proto: tcp, port: 80, want: everything,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mode := tc.mode
			if mode == "" {
				mode = ModeDefault
			}
			m := newModel(t, mode)
			m.apply(tc.policies...)
			m.expect(tc.proto, tc.port, tc.want)
		})
	}
}

func TestCiliumCIDRWithExcept(t *testing.T) {
	m := newModel(t, ModeDefault)
	m.syncCIDRs("192.0.2.0/24", "192.0.2.10/32")
	m.apply(`
kind: CiliumNetworkPolicy
metadata: {name: cidr, namespace: x}
spec:
  endpointSelector: {matchLabels: {pod: a}}
  ingress:
  - fromCIDRSet: [{cidr: 192.0.2.0/24, except: [192.0.2.10/32]}]`)
	res := m.result("x/a")
	if d, _ := Lookup(res.Entries, m.outsideIdentity(), Ingress, tcp, 80); d != DeniedByDefault {
		t.Errorf("excepted outside client: %s, want default deny", d)
	}
	m.syncCIDRs("192.0.2.0/24")
	m.r.Resolve()
	if d, _ := Lookup(m.result("x/a").Entries, m.outsideIdentity(), Ingress, tcp, 80); d != Allowed {
		t.Errorf("outside client without except: %s, want allowed", d)
	}
}

func TestVerdictNamesPolicy(t *testing.T) {
	m := newModel(t, ModeDefault)
	m.apply(`
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: x}
spec: {podSelector: {}}`, `
kind: CiliumNetworkPolicy
metadata: {name: deny-c, namespace: "y"}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: false}
  ingressDeny: [{fromEndpoints: [{matchLabels: {pod: c}}]}]`)
	res := m.result("x/a")
	if got := res.EnforcedBy[Ingress]; len(got) != 1 || got[0] != "NetworkPolicy x/deny-ingress" {
		t.Errorf("ingress enforced by %v", got)
	}
	d, v := Lookup(m.result("y/a").Entries, m.ids["y/c"].ID, Ingress, tcp, 80)
	if d != DeniedByRule || len(v.Policies) != 1 || v.Policies[0] != "CiliumNetworkPolicy y/deny-c" {
		t.Errorf("deny verdict %s %v", d, v.Policies)
	}
	// The node reaches pods in default deny (kubelet probes).
	if d, _ := Lookup(res.Entries, identity.IDHost, Ingress, tcp, 8080); d != Allowed {
		t.Errorf("host to enforced pod: %s", d)
	}
}

func TestCiliumInvalid(t *testing.T) {
	for _, tc := range []struct {
		manifest, want string
		kind           error
	}{
		{`
metadata: {name: bad-port, namespace: x}
spec:
  endpointSelector: {}
  ingress: [{toPorts: [{ports: [{port: "99999"}]}]}]`, "spec.ingress[0].toPorts[0].ports[0].port", ErrInvalid},
		{`
metadata: {name: bad-cidr, namespace: x}
spec:
  endpointSelector: {}
  egress: [{toCIDR: [300.0.0.0/8]}]`, "spec.egress[0].toCIDR[0]", ErrInvalid},
		{`
metadata: {name: bad-entity, namespace: x}
spec:
  endpointSelector: {}
  egress: [{toEntities: [everyone]}]`, "unknown entity", ErrInvalid},
		{`
metadata: {name: no-selector, namespace: x}
spec:
  ingress: [{}]`, "spec.endpointSelector: required", ErrInvalid},
		{`
metadata: {name: l7, namespace: x}
spec:
  endpointSelector: {}
  ingress: [{toPorts: [{ports: [{port: "80"}], rules: {http: [{method: GET}]}}]}]`, "L7", ErrUnsupported},
		{`
metadata: {name: second-spec, namespace: x}
specs:
- endpointSelector: {}
- endpointSelector: {matchExpressions: [{key: a, operator: Exists, values: [b]}]}`, "specs[1].endpointSelector", ErrInvalid},
		{`
metadata: {name: endport, namespace: x}
spec:
  endpointSelector: {}
  ingress: [{toPorts: [{ports: [{port: http, endPort: 90}]}]}]`, "endPort needs a numeric port", ErrInvalid},
	} {
		o := &v2.CiliumNetworkPolicy{}
		if err := yaml.UnmarshalStrict([]byte(tc.manifest), o); err != nil {
			t.Fatal(err)
		}
		_, err := FromCiliumNetworkPolicy(o)
		if err == nil || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) ||
			!strings.Contains(err.Error(), "CiliumNetworkPolicy x/"+o.Name) {
			t.Errorf("%s: error %v, want %v naming the object and %q", o.Name, err, tc.kind, tc.want)
		}
	}
}

func TestPortPrefixes(t *testing.T) {
	for _, tc := range []struct {
		lo, hi uint16
		n      int
	}{{80, 80, 1}, {0, 65535, 1}, {64, 127, 1}, {79, 81, 2}, {1, 65535, 16}, {1024, 65535, 6}} {
		got := PortPrefixes(tc.lo, tc.hi)
		if len(got) != tc.n {
			t.Errorf("%d-%d: %d prefixes %v, want %d", tc.lo, tc.hi, len(got), got, tc.n)
		}
		// Exactly the range, no more.
		covered := 0
		for _, p := range got {
			k := MapKey{Proto: ProtoTCP, Port: p[0], PortBits: uint8(p[1])}
			lo, hi := k.PortRange()
			if lo < tc.lo || hi > tc.hi {
				t.Errorf("%d-%d: prefix %v covers %d-%d", tc.lo, tc.hi, p, lo, hi)
			}
			covered += int(hi) - int(lo) + 1
		}
		if covered != int(tc.hi)-int(tc.lo)+1 {
			t.Errorf("%d-%d: prefixes cover %d ports", tc.lo, tc.hi, covered)
		}
	}
}
