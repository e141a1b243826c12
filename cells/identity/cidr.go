package identity

import (
	"net/netip"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
)

// CIDRAllocator hands out node-local identities for prefixes, stable for as
// long as a prefix stays in use. Not safe for concurrent use.
type CIDRAllocator struct {
	ids  map[netip.Prefix]ID
	free []ID
	next ID
}

// NewCIDRAllocator returns an empty allocator.
func NewCIDRAllocator() *CIDRAllocator {
	return &CIDRAllocator{ids: map[netip.Prefix]ID{}, next: LocalFlag + 1}
}

// Sync makes the allocator hold exactly the given prefixes and returns their
// identities. A /0 is the world and gets IDWorld, as in Cilium.
func (a *CIDRAllocator) Sync(prefixes []netip.Prefix) []*Identity {
	want := map[netip.Prefix]bool{}
	for _, p := range prefixes {
		if p.Bits() > 0 {
			want[p.Masked()] = true
		}
	}
	for p, id := range a.ids {
		if !want[p] {
			delete(a.ids, p)
			a.free = append(a.free, id)
		}
	}
	out := make([]*Identity, 0, len(want))
	for p := range want {
		id, ok := a.ids[p]
		if !ok {
			if n := len(a.free); n > 0 {
				id, a.free = a.free[n-1], a.free[:n-1]
			} else {
				id = a.next
				a.next++
			}
			a.ids[p] = id
		}
		out = append(out, &Identity{ID: id, Kind: KindCIDR, Prefix: p, Labels: Labels{SourceCIDR + ":" + p.String(): ""}})
	}
	slices.SortFunc(out, func(x, y *Identity) int { return int(x.ID) - int(y.ID) })
	return out
}

// NetworkPolicyCIDRs appends the prefixes a NetworkPolicy's ipBlocks name
// (unparsable ones are the policy cell's to report).
func NetworkPolicyCIDRs(dst []netip.Prefix, np *networkingv1.NetworkPolicy) []netip.Prefix {
	add := func(b *networkingv1.IPBlock) {
		if b == nil {
			return
		}
		for _, s := range append([]string{b.CIDR}, b.Except...) {
			if p, err := netip.ParsePrefix(s); err == nil {
				dst = append(dst, p)
			}
		}
	}
	for _, r := range np.Spec.Ingress {
		for _, peer := range r.From {
			add(peer.IPBlock)
		}
	}
	for _, r := range np.Spec.Egress {
		for _, peer := range r.To {
			add(peer.IPBlock)
		}
	}
	return dst
}

// RuleCIDRs appends the prefixes a Cilium rule's CIDR peers name.
func RuleCIDRs(dst []netip.Prefix, r *v2.Rule) []netip.Prefix {
	addS := func(s v2.CIDR) {
		if p, err := netip.ParsePrefix(string(s)); err == nil {
			dst = append(dst, p)
		}
	}
	addSet := func(cs []v2.CIDRRule) {
		for _, c := range cs {
			addS(c.Cidr)
			for _, e := range c.ExceptCIDRs {
				addS(e)
			}
		}
	}
	for _, c := range r.Ingress {
		slices.Values(c.FromCIDR)(func(s v2.CIDR) bool { addS(s); return true })
		addSet(c.FromCIDRSet)
	}
	for _, c := range r.IngressDeny {
		slices.Values(c.FromCIDR)(func(s v2.CIDR) bool { addS(s); return true })
		addSet(c.FromCIDRSet)
	}
	for _, c := range r.Egress {
		slices.Values(c.ToCIDR)(func(s v2.CIDR) bool { addS(s); return true })
		addSet(c.ToCIDRSet)
	}
	for _, c := range r.EgressDeny {
		slices.Values(c.ToCIDR)(func(s v2.CIDR) bool { addS(s); return true })
		addSet(c.ToCIDRSet)
	}
	return dst
}
