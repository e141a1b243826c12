package policy

import (
	"net/netip"
	"slices"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/hivenet/hivenet/cells/identity"
)

// Peer selects identities on the other side of a connection. The fields are
// ORed, except Requires, which every identity matched by Labels must also
// satisfy (Cilium's fromRequires/toRequires).
type Peer struct {
	// All matches every peer, inside and outside the cluster (written as
	// identity 0).
	All bool
	// Labels matches cluster identities by their labels.
	Labels labels.Selector
	// Requires are extra selectors a Labels match must satisfy too.
	Requires []labels.Selector
	// Reserved lists reserved identities.
	Reserved []identity.ID
	// Cluster matches every cluster identity.
	Cluster bool
	// World matches the world identity and every CIDR identity.
	World bool
	// CIDR matches the CIDR identities inside it but outside Except (and
	// the world identity when CIDR is /0).
	CIDR   netip.Prefix
	Except []netip.Prefix
}

// Matches reports whether the peer selects id.
func (p *Peer) Matches(id *identity.Identity) bool {
	var set labels.Set
	if id.Kind == identity.KindCluster {
		set = id.Labels.Selectable()
	}
	return p.matches(id, set)
}

// matches is Matches with id's selectable labels already computed.
func (p *Peer) matches(id *identity.Identity, set labels.Set) bool {
	if p.All {
		return true
	}
	if slices.Contains(p.Reserved, id.ID) {
		return true
	}
	switch id.Kind {
	case identity.KindCluster:
		if p.Cluster {
			return true
		}
		if p.Labels != nil {
			if !p.Labels.Matches(set) {
				return false
			}
			for _, r := range p.Requires {
				if !r.Matches(set) {
					return false
				}
			}
			return true
		}
	case identity.KindCIDR:
		if p.World {
			return true
		}
		if p.CIDR.IsValid() && contains(p.CIDR, id.Prefix) {
			for _, e := range p.Except {
				if contains(e, id.Prefix) {
					return false
				}
			}
			return true
		}
	case identity.KindReserved:
		if id.ID == identity.IDWorld && (p.World || p.CIDR.IsValid() && p.CIDR.Bits() == 0) {
			return true
		}
	}
	return false
}

// contains reports whether prefix inner lies inside outer.
func contains(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// PortProto is a port range (or named port) and protocol a rule allows or
// denies. Proto 0 is any protocol (and all ports). Lo 0 means all ports.
type PortProto struct {
	Proto  uint8
	Lo, Hi uint16
	// Name is a named port, resolved against the destination's container
	// ports; Lo/Hi are unused then.
	Name string
}

// Rule allows or denies traffic between the endpoints Subject selects and
// the peers, on the ports (all ports if none).
type Rule struct {
	Subject   labels.Selector
	Direction Direction
	Deny      bool
	Peers     []Peer
	Ports     []PortProto
}

// Policy is one validated policy object.
type Policy struct {
	// Name is "Kind namespace/name" (or "Kind name" when cluster-wide).
	Name string
	// Namespace is the only namespace whose endpoints the policy can
	// select, "" for cluster-wide policies; it lets the resolver look at
	// only the policies that can apply to an identity.
	Namespace string
	Rules     []Rule
	// DefaultDeny lists, per direction, subjects this policy puts into
	// default deny.
	DefaultDeny []Enforcement
}

// Enforcement puts the endpoints Subject selects into default deny for a
// direction.
type Enforcement struct {
	Subject   labels.Selector
	Direction Direction
}

// selects reports whether the policy selects an endpoint with these labels
// at all (for any rule or enforcement).
func (p *Policy) selects(set labels.Set) bool {
	for i := range p.DefaultDeny {
		if p.DefaultDeny[i].Subject.Matches(set) {
			return true
		}
	}
	for i := range p.Rules {
		if p.Rules[i].Subject.Matches(set) {
			return true
		}
	}
	return false
}
