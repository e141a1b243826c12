package policy

import "github.com/hivenet/hivenet/cells/identity"

// Decision is the outcome of a policy lookup.
type Decision uint8

const (
	// Allowed: an allow entry matched and no deny did.
	Allowed Decision = iota
	// DeniedByDefault: nothing matched in an enforced direction.
	DeniedByDefault
	// DeniedByRule: a deny entry matched.
	DeniedByRule
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "ALLOWED"
	case DeniedByRule:
		return "DENIED (deny rule)"
	}
	return "DENIED (default deny)"
}

// longest returns the most specific entry for peer that matches.
func longest(entries map[MapKey]Verdict, peer identity.ID, dir Direction, proto uint8, port uint16) (Verdict, bool) {
	full := MapKey{Identity: peer, Direction: dir, Proto: proto, Port: port, PortBits: 16}
	anc := ancestors(full)
	for i := len(anc) - 1; i >= 0; i-- {
		if v, ok := entries[anc[i]]; ok {
			return v, true
		}
	}
	return Verdict{}, false
}

// Lookup decides a packet from (ingress) or to (egress) peer exactly as the
// datapath does with the endpoint's map: the longest match for the peer's
// identity and for identity 0; a deny in either drops, else an allow in
// either passes, else default deny. The verdict returned names the policies.
func Lookup(entries map[MapKey]Verdict, peer identity.ID, dir Direction, proto uint8, port uint16) (Decision, Verdict) {
	v1, ok1 := longest(entries, peer, dir, proto, port)
	v0, ok0 := longest(entries, 0, dir, proto, port)
	switch {
	case ok1 && v1.Deny:
		return DeniedByRule, v1
	case ok0 && v0.Deny:
		return DeniedByRule, v0
	case ok1:
		return Allowed, v1
	case ok0:
		return Allowed, v0
	}
	return DeniedByDefault, Verdict{}
}
