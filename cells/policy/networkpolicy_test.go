package policy

import (
	"errors"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
)

func mustNP(t *testing.T, manifest string) *networkingv1.NetworkPolicy {
	t.Helper()
	np := &networkingv1.NetworkPolicy{}
	if err := yaml.UnmarshalStrict([]byte(manifest), np); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	return np
}

func (m *model) apply(manifests ...string) {
	m.t.Helper()
	for _, s := range manifests {
		var kind struct{ Kind string }
		if err := yaml.Unmarshal([]byte(s), &kind); err != nil {
			m.t.Fatal(err)
		}
		var p *Policy
		var err error
		switch kind.Kind {
		case "NetworkPolicy":
			p, err = FromNetworkPolicy(mustNP(m.t, s))
		case "CiliumNetworkPolicy":
			o := &v2.CiliumNetworkPolicy{}
			if err := yaml.UnmarshalStrict([]byte(s), o); err != nil {
				m.t.Fatal(err)
			}
			p, err = FromCiliumNetworkPolicy(o)
		case "CiliumClusterwideNetworkPolicy":
			o := &v2.CiliumClusterwideNetworkPolicy{}
			if err := yaml.UnmarshalStrict([]byte(s), o); err != nil {
				m.t.Fatal(err)
			}
			p, err = FromCiliumClusterwideNetworkPolicy(o)
		default:
			m.t.Fatalf("unknown kind %q", kind.Kind)
		}
		if err != nil {
			m.t.Fatalf("policy rejected: %v", err)
		}
		m.r.SetPolicy(p.Name, p)
	}
}

const (
	tcp = ProtoTCP
	udp = ProtoUDP
)

func everything(string, string) bool { return true }

func TestNetworkPolicyTruthTables(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policies []string
		cidrs    []string
		relabel  map[string]map[string]string // applied after the policies
		proto    uint8
		port     uint16
		want     func(src, dst string) bool
	}{
		{
			name:  "no policy allows everything",
			proto: tcp, port: 80, want: everything,
		},
		{
			name: "default deny ingress in x",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: x}
spec: {podSelector: {}}`},
			proto: tcp, port: 80,
			want: func(s, d string) bool { return nsOf(d) != "x" },
		},
		{
			name: "default deny egress in x",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: x}
spec: {podSelector: {}, policyTypes: [Egress]}`},
			proto: udp, port: 81,
			want: func(s, d string) bool { return nsOf(s) != "x" },
		},
		{
			name: "allow by namespace",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: allow-ns-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: "y"}}}]`},
			proto: tcp, port: 80,
			want: func(s, d string) bool { return d != "x/a" || nsOf(s) == "y" },
		},
		{
			name: "pod and namespace selector in one peer are ANDed",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: and, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: b}}}]`},
			proto: tcp, port: 81,
			want: func(s, d string) bool { return d != "x/a" || s == "y/b" },
		},
		{
			name: "pod and namespace selector in two peers are ORed",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: or, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: "y"}}}, {podSelector: {matchLabels: {pod: b}}}]`},
			proto: tcp, port: 81,
			want: func(s, d string) bool { return d != "x/a" || nsOf(s) == "y" || s == "x/b" },
		},
		{
			name: "named port allows only that port (81 probed)",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: named, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: serve-81-tcp}]`},
			proto: tcp, port: 81, want: everything,
		},
		{
			name: "named port allows only that port (80 probed)",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: named, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - ports: [{port: serve-81-tcp}]`},
			proto: tcp, port: 80,
			want: func(s, d string) bool { return d != "x/a" },
		},
		{
			name: "named port on egress resolves at the destination",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: named-egress, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: serve-80-udp, protocol: UDP}]`},
			proto: udp, port: 80, want: everything,
		},
		{
			name: "endPort range includes its ends",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: range, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 79, endPort: 81, protocol: TCP}]`},
			proto: tcp, port: 81, want: everything,
		},
		{
			name: "endPort range excludes other protocols",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: range, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 79, endPort: 81, protocol: TCP}]`},
			proto: udp, port: 80,
			want: func(s, d string) bool { return nsOf(s) != "x" },
		},
		{
			name: "policies in one namespace leave the others alone",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: deny-all, namespace: "y"}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}`},
			proto: tcp, port: 80,
			want: func(s, d string) bool { return nsOf(s) != "y" && nsOf(d) != "y" },
		},
		{
			name: "union of several policies",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: from-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`, `
kind: NetworkPolicy
metadata: {name: from-z, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {ns: z}}}]}]`},
			proto: tcp, port: 80,
			want: func(s, d string) bool { return d != "x/a" || s == "x/b" || nsOf(s) == "z" },
		},
		{
			name: "empty namespaceSelector selects all pods of all namespaces",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: all-ns, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: c}}}]}]`},
			proto: tcp, port: 80,
			want: func(s, d string) bool { return nsOf(d) != "x" || podOf(s) == "c" },
		},
		{
			name: "ingress rules of a policy without Ingress in policyTypes are ignored",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: egress-only, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]
  egress: [{}]`},
			proto: tcp, port: 80, want: everything,
		},
		{
			name: "egress to one namespace, policyTypes inferred from egress rules",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: to-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  egress: [{to: [{namespaceSelector: {matchLabels: {ns: "y"}}}]}]`},
			proto: udp, port: 80,
			// Ingress is inferred too: x/a takes no traffic at all.
			want: func(s, d string) bool { return (s != "x/a" || nsOf(d) == "y") && d != "x/a" },
		},
		{
			name: "a label change is re-evaluated",
			policies: []string{`
kind: NetworkPolicy
metadata: {name: from-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{from: [{podSelector: {matchLabels: {pod: b}}}]}]`},
			relabel: map[string]map[string]string{"x/c": {"pod": "b"}},
			proto:   tcp, port: 80,
			want: func(s, d string) bool { return d != "x/a" || s == "x/b" || s == "x/c" },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(t, ModeDefault)
			m.syncCIDRs(tc.cidrs...)
			m.apply(tc.policies...)
			m.r.Resolve()
			for pod, l := range tc.relabel {
				m.setPodLabels(pod, l)
			}
			m.expect(tc.proto, tc.port, tc.want)
		})
	}
}

func TestNetworkPolicyIPBlock(t *testing.T) {
	m := newModel(t, ModeDefault)
	m.syncCIDRs("192.0.2.0/24", "192.0.2.10/32")
	m.apply(`
kind: NetworkPolicy
metadata: {name: ipblock, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{ipBlock: {cidr: 192.0.2.0/24, except: [192.0.2.10/32]}}]
  - from: [{ipBlock: {cidr: 0.0.0.0/0}}]
    ports: [{port: 81}]`)
	res := m.result("x/a")
	client := m.outsideIdentity()
	if d, _ := Lookup(res.Entries, client, Ingress, tcp, 80); d != DeniedByDefault {
		t.Errorf("excepted client on 80: %s, want default deny", d)
	}
	if d, _ := Lookup(res.Entries, client, Ingress, tcp, 81); d != Allowed {
		t.Errorf("client on 81 (0.0.0.0/0): %s, want allowed", d)
	}
	// Another address of the /24 is allowed on any port.
	var other *struct{}
	_ = other
	for id, ident := range m.r.identities {
		if ident.Prefix.String() == "192.0.2.0/24" {
			if d, _ := Lookup(res.Entries, id, Ingress, tcp, 80); d != Allowed {
				t.Errorf("192.0.2.0/24 on 80: %s, want allowed", d)
			}
		}
	}
	if d, _ := Lookup(res.Entries, 2, Ingress, tcp, 80); d != DeniedByDefault {
		t.Errorf("world on 80: %s, want default deny", d)
	}
	// Pods are not addressed by ipBlocks.
	m.expect(tcp, 80, func(s, d string) bool { return d != "x/a" })
}

func TestNetworkPolicyInvalid(t *testing.T) {
	for _, tc := range []struct{ manifest, want string }{
		{`
kind: NetworkPolicy
metadata: {name: bad-port, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 70000}]}]`, "NetworkPolicy x/bad-port: spec.ingress[0].ports[0].port: 70000 is out of range"},
		{`
kind: NetworkPolicy
metadata: {name: bad-cidr, namespace: x}
spec:
  podSelector: {}
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/33}}]}]`, "spec.egress[0].to[0].ipBlock: cidr \"10.0.0.0/33\""},
		{`
kind: NetworkPolicy
metadata: {name: bad-except, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/8]}}]}]`, "not inside cidr"},
		{`
kind: NetworkPolicy
metadata: {name: exclusive, namespace: x}
spec:
  podSelector: {}
  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]`, "ipBlock cannot be combined"},
		{`
kind: NetworkPolicy
metadata: {name: bad-selector, namespace: x}
spec:
  podSelector: {matchExpressions: [{key: app, operator: In}]}`, "spec.podSelector"},
		{`
kind: NetworkPolicy
metadata: {name: bad-endport, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 90, endPort: 80}]}]`, "endPort: 80 must be between"},
		{`
kind: NetworkPolicy
metadata: {name: bad-proto, namespace: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: 90, protocol: ICMP}]}]`, "protocol: \"ICMP\" is not TCP, UDP or SCTP"},
		{`
kind: NetworkPolicy
metadata: {name: bad-type, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Sideways]`, "spec.policyTypes[0]"},
	} {
		np := mustNP(t, tc.manifest)
		_, err := FromNetworkPolicy(np)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want ErrInvalid containing %q", np.Name, err, tc.want)
		}
	}
}

// An invalid policy is never half-applied: the caller keeps what was
// enforced before, and other policies are untouched.
func TestInvalidPolicyLeavesOthersAlone(t *testing.T) {
	m := newModel(t, ModeDefault)
	m.apply(`
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: x}
spec: {podSelector: {}}`)
	before := m.result("x/a")
	_, err := FromNetworkPolicy(mustNP(t, `
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: x}
spec: {podSelector: {}, ingress: [{ports: [{port: 0}]}]}`))
	if err == nil {
		t.Fatal("port 0 accepted")
	}
	after := m.result("x/a")
	if len(before.Entries) != len(after.Entries) {
		t.Fatal("entries changed")
	}
}
