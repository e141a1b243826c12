package policy

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/hivenet/hivenet/cells/identity"
)

// model is the upstream NetworkPolicy test model: namespaces x, y, z with
// pods a, b, c each, serving TCP and UDP on 80 and 81 (ports named
// serve-<port>-<proto>), plus an outside client at 192.0.2.10.
type model struct {
	t      *testing.T
	r      *Resolver
	ids    map[string]*identity.Identity // "x/a" -> identity
	next   identity.ID
	labels map[string]map[string]string // pod labels
	cidr   *identity.CIDRAllocator
}

var (
	modelNamespaces = []string{"x", "y", "z"}
	modelPods       = []string{"a", "b", "c"}
	outsideClient   = netip.MustParseAddr("192.0.2.10")
)

func newModel(t *testing.T, mode Mode) *model {
	m := &model{t: t, r: NewResolver(mode), ids: map[string]*identity.Identity{}, next: 256,
		labels: map[string]map[string]string{}, cidr: identity.NewCIDRAllocator()}
	for _, id := range identity.Reserved() {
		m.r.UpsertIdentity(id)
	}
	for _, ns := range modelNamespaces {
		for _, p := range modelPods {
			m.setPodLabels(ns+"/"+p, map[string]string{"pod": p})
		}
	}
	return m
}

func (m *model) nsLabels(ns string) map[string]string {
	return map[string]string{"ns": ns, "kubernetes.io/metadata.name": ns}
}

// setPodLabels relabels a pod: it gets the identity of its new label set.
func (m *model) setPodLabels(pod string, l map[string]string) {
	ns, _, _ := strings.Cut(pod, "/")
	if old, ok := m.ids[pod]; ok {
		m.r.RemoveSubject(old.ID)
	}
	ls := identity.PodLabels(l, ns, m.nsLabels(ns), "")
	var id *identity.Identity
	for _, o := range m.ids {
		if o.Labels.Key() == ls.Key() {
			id = o
		}
	}
	if id == nil {
		id = &identity.Identity{ID: m.next, Kind: identity.KindCluster, Labels: ls}
		m.next++
		m.r.UpsertIdentity(id)
	}
	m.ids[pod] = id
	m.labels[pod] = l
	m.r.AddSubject(id.ID)
	m.r.SetNamedPorts(id.ID, map[string][]NamedPort{
		"serve-80-tcp": {{ProtoTCP, 80}}, "serve-80-udp": {{ProtoUDP, 80}},
		"serve-81-tcp": {{ProtoTCP, 81}}, "serve-81-udp": {{ProtoUDP, 81}},
	})
}

// syncCIDRs gives the CIDR identities the policies need, as the identity
// cell does.
func (m *model) syncCIDRs(prefixes ...string) {
	var ps []netip.Prefix
	for _, s := range prefixes {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	keep := map[identity.ID]bool{}
	for _, id := range m.cidr.Sync(ps) {
		m.r.UpsertIdentity(id)
		keep[id.ID] = true
	}
	for id, ident := range m.r.identities {
		if ident.Kind == identity.KindCIDR && !keep[id] {
			m.r.DeleteIdentity(id)
		}
	}
}

// outsideIdentity is the identity the ipcache gives the outside client:
// the longest CIDR identity containing it, else world.
func (m *model) outsideIdentity() identity.ID {
	best, bits := identity.IDWorld, -1
	for id, ident := range m.r.identities {
		if ident.Kind == identity.KindCIDR && ident.Prefix.Contains(outsideClient) && ident.Prefix.Bits() > bits {
			best, bits = id, ident.Prefix.Bits()
		}
	}
	return best
}

func (m *model) result(pod string) *Result {
	m.r.Resolve()
	res, ok := m.r.Result(m.ids[pod].ID)
	if !ok {
		m.t.Fatalf("no policy resolved for %s", pod)
	}
	return res
}

// probe says whether src reaches dst: src's egress and dst's ingress must
// both allow.
func (m *model) probe(src, dst string, proto uint8, port uint16) bool {
	if d, _ := Lookup(m.result(src).Entries, m.ids[dst].ID, Egress, proto, port); d != Allowed {
		return false
	}
	d, _ := Lookup(m.result(dst).Entries, m.ids[src].ID, Ingress, proto, port)
	return d == Allowed
}

func allPods() []string {
	var out []string
	for _, ns := range modelNamespaces {
		for _, p := range modelPods {
			out = append(out, ns+"/"+p)
		}
	}
	return out
}

// expect compares every probe against want(src, dst); it prints the whole
// truth table on a mismatch, as the upstream tests do.
func (m *model) expect(proto uint8, port uint16, want func(src, dst string) bool) {
	m.t.Helper()
	var b strings.Builder
	wrong := 0
	pods := allPods()
	fmt.Fprintf(&b, "%s/%d (want/got, X = mismatch)\n      ", ProtoName(proto), port)
	for _, d := range pods {
		fmt.Fprintf(&b, "%-5s", d)
	}
	b.WriteByte('\n')
	for _, s := range pods {
		fmt.Fprintf(&b, "%-5s ", s)
		for _, d := range pods {
			w, g := want(s, d), m.probe(s, d, proto, port)
			c := "."
			if !g {
				c = "x"
			}
			if w != g {
				c, wrong = "X", wrong+1
			}
			fmt.Fprintf(&b, "%-5s", c)
		}
		b.WriteByte('\n')
	}
	if wrong > 0 {
		m.t.Errorf("%d probes differ from the truth table:\n%s", wrong, b.String())
	}
}

func nsOf(pod string) string  { ns, _, _ := strings.Cut(pod, "/"); return ns }
func podOf(pod string) string { _, p, _ := strings.Cut(pod, "/"); return p }
