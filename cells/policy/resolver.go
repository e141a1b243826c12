package policy

import (
	"slices"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/hivenet/hivenet/cells/identity"
)

// Mode is the agent's enable-policy setting.
type Mode string

const (
	// ModeDefault enforces a direction on an endpoint once a policy selects
	// it for that direction.
	ModeDefault Mode = "default"
	// ModeAlways enforces both directions on every endpoint: without an
	// allowing policy, traffic is dropped.
	ModeAlways Mode = "always"
	// ModeNever enforces nothing.
	ModeNever Mode = "never"
)

// Verdict is the value of one policy entry.
type Verdict struct {
	Deny bool `json:"deny,omitempty"`
	// Policies are the names of the policies that produced the entry.
	Policies []string `json:"policies,omitempty"`
}

// NamedPort is a container port with a name.
type NamedPort struct {
	Proto uint8
	Port  uint16
}

// Result is the resolved policy of one identity.
type Result struct {
	Entries map[MapKey]Verdict
	// Enforced says per direction whether default deny applies, and
	// EnforcedBy which policies put it there (named in drop verdicts).
	Enforced   [2]bool
	EnforcedBy [2][]string
}

// Allow-all and host origins, as the entries name them.
const (
	OriginAllowAll  = "allow-all (not enforced)"
	OriginLocalhost = "allow-localhost"
)

// Resolver computes the policy of each subject identity and keeps it up to
// date incrementally: every change marks only the identities whose result
// may change, and Resolve recomputes those. Not safe for concurrent use.
type Resolver struct {
	mode     Mode
	policies map[string]*Policy
	// byNamespace indexes policies by Policy.Namespace.
	byNamespace map[string]map[string]*Policy
	// subjectNS is each subject identity's namespace.
	subjectNS  map[string]map[identity.ID]struct{}
	identities map[identity.ID]*identity.Identity
	sets       map[identity.ID]labels.Set
	// subjects are the identities of local endpoints (reference counted):
	// the only ones resolved.
	subjects   map[identity.ID]int
	namedPorts map[identity.ID]map[string][]NamedPort
	// selected caches, per peer, the identities it matches.
	selected map[*Peer]map[identity.ID]struct{}
	results  map[identity.ID]*Result
	dirty    map[identity.ID]struct{}
}

// NewResolver returns an empty resolver enforcing in mode.
func NewResolver(mode Mode) *Resolver {
	return &Resolver{
		mode: mode, policies: map[string]*Policy{}, byNamespace: map[string]map[string]*Policy{},
		subjectNS: map[string]map[identity.ID]struct{}{}, identities: map[identity.ID]*identity.Identity{},
		sets: map[identity.ID]labels.Set{}, subjects: map[identity.ID]int{},
		namedPorts: map[identity.ID]map[string][]NamedPort{},
		selected:   map[*Peer]map[identity.ID]struct{}{}, results: map[identity.ID]*Result{},
		dirty: map[identity.ID]struct{}{},
	}
}

// markSelectedBy marks the subjects a policy selects.
func (r *Resolver) markSelectedBy(p *Policy) {
	mark := func(id identity.ID) {
		if p.selects(r.sets[id]) {
			r.dirty[id] = struct{}{}
		}
	}
	if p.Namespace == "" {
		for id := range r.subjects {
			mark(id)
		}
		return
	}
	for id := range r.subjectNS[p.Namespace] {
		mark(id)
	}
}

func (r *Resolver) namespaceOf(id identity.ID) string {
	return r.sets[id][identity.PodNamespaceLabel]
}

// SetPolicy adds or replaces a policy by name (nil deletes it).
func (r *Resolver) SetPolicy(name string, p *Policy) {
	if old, ok := r.policies[name]; ok {
		r.markSelectedBy(old)
		for i := range old.Rules {
			for j := range old.Rules[i].Peers {
				delete(r.selected, &old.Rules[i].Peers[j])
			}
		}
		delete(r.policies, name)
		delete(r.byNamespace[old.Namespace], name)
	}
	if p == nil {
		return
	}
	r.policies[name] = p
	if r.byNamespace[p.Namespace] == nil {
		r.byNamespace[p.Namespace] = map[string]*Policy{}
	}
	r.byNamespace[p.Namespace][name] = p
	for i := range p.Rules {
		for j := range p.Rules[i].Peers {
			peer := &p.Rules[i].Peers[j]
			m := map[identity.ID]struct{}{}
			if !peer.All {
				for id, ident := range r.identities {
					if peer.matches(ident, r.sets[id]) {
						m[id] = struct{}{}
					}
				}
			}
			r.selected[peer] = m
		}
	}
	r.markSelectedBy(p)
}

// UpsertIdentity adds an identity, or replaces one whose labels changed.
func (r *Resolver) UpsertIdentity(id *identity.Identity) {
	if old, ok := r.identities[id.ID]; ok && old.Labels.Key() == id.Labels.Key() && old.Prefix == id.Prefix {
		return
	}
	r.identities[id.ID] = id
	r.sets[id.ID] = id.Labels.Selectable()
	if _, ok := r.subjects[id.ID]; ok {
		// A subject whose identity arrived late: file it under its namespace.
		for _, m := range r.subjectNS {
			delete(m, id.ID)
		}
		ns := r.namespaceOf(id.ID)
		if r.subjectNS[ns] == nil {
			r.subjectNS[ns] = map[identity.ID]struct{}{}
		}
		r.subjectNS[ns][id.ID] = struct{}{}
	}
	r.updatePeers(id.ID, id)
	if _, ok := r.subjects[id.ID]; ok {
		r.dirty[id.ID] = struct{}{}
	}
}

// DeleteIdentity removes an identity.
func (r *Resolver) DeleteIdentity(id identity.ID) {
	if _, ok := r.identities[id]; !ok {
		return
	}
	delete(r.identities, id)
	delete(r.sets, id)
	r.updatePeers(id, nil)
}

// updatePeers updates every peer's selection for one identity and marks
// the subjects of the policies whose selection changed.
func (r *Resolver) updatePeers(id identity.ID, ident *identity.Identity) {
	for _, p := range r.policies {
		changed := false
		for i := range p.Rules {
			for j := range p.Rules[i].Peers {
				peer := &p.Rules[i].Peers[j]
				if peer.All {
					continue
				}
				m := r.selected[peer]
				_, had := m[id]
				has := ident != nil && peer.matches(ident, r.sets[id])
				if had != has {
					changed = true
					if has {
						m[id] = struct{}{}
					} else {
						delete(m, id)
					}
				}
			}
		}
		if changed {
			r.markSelectedBy(p)
		}
	}
}

// AddSubject counts one more local endpoint with identity id; RemoveSubject
// one less. Only identities with endpoints are resolved.
func (r *Resolver) AddSubject(id identity.ID) {
	r.subjects[id]++
	if r.subjects[id] == 1 {
		r.dirty[id] = struct{}{}
		ns := r.namespaceOf(id)
		if r.subjectNS[ns] == nil {
			r.subjectNS[ns] = map[identity.ID]struct{}{}
		}
		r.subjectNS[ns][id] = struct{}{}
	}
}

// RemoveSubject is the inverse of AddSubject.
func (r *Resolver) RemoveSubject(id identity.ID) {
	r.subjects[id]--
	if r.subjects[id] <= 0 {
		for _, m := range r.subjectNS {
			delete(m, id)
		}
		delete(r.subjects, id)
		delete(r.results, id)
		delete(r.dirty, id)
	}
}

// SetNamedPorts sets the named ports of the pods with identity id.
func (r *Resolver) SetNamedPorts(id identity.ID, ports map[string][]NamedPort) {
	if len(ports) == 0 {
		if _, ok := r.namedPorts[id]; !ok {
			return
		}
		delete(r.namedPorts, id)
	} else {
		r.namedPorts[id] = ports
	}
	// Named ports are resolved on the destination: the identity itself
	// for ingress, and its peers for egress.
	if _, ok := r.subjects[id]; ok {
		r.dirty[id] = struct{}{}
	}
	for _, p := range r.policies {
		for i := range p.Rules {
			if p.Rules[i].Direction == Egress && usesNamedPorts(&p.Rules[i]) {
				r.markSelectedBy(p)
				break
			}
		}
	}
}

func usesNamedPorts(rule *Rule) bool {
	for _, pp := range rule.Ports {
		if pp.Name != "" {
			return true
		}
	}
	return false
}

// Resolve recomputes the identities marked since the last call and returns
// them.
func (r *Resolver) Resolve() []identity.ID {
	changed := make([]identity.ID, 0, len(r.dirty))
	for id := range r.dirty {
		if _, ok := r.identities[id]; ok {
			r.results[id] = r.resolve(id)
		} else {
			// An endpoint whose identity is unknown yet gets nothing
			// written: its entries follow once the identity appears.
			delete(r.results, id)
		}
		changed = append(changed, id)
	}
	clear(r.dirty)
	slices.Sort(changed)
	return changed
}

// Result returns the resolved policy of a subject identity.
func (r *Resolver) Result(id identity.ID) (*Result, bool) {
	res, ok := r.results[id]
	return res, ok
}

func (r *Resolver) resolve(subject identity.ID) *Result {
	set := r.sets[subject]
	res := &Result{Entries: map[MapKey]Verdict{}}
	var rules []*Rule
	var origins []string
	if r.mode != ModeNever {
		ns := r.namespaceOf(subject)
		names := make([]string, 0, len(r.byNamespace[ns])+len(r.byNamespace[""]))
		for name := range r.byNamespace[ns] {
			names = append(names, name)
		}
		if ns != "" {
			for name := range r.byNamespace[""] {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			p := r.policies[name]
			for i := range p.DefaultDeny {
				e := &p.DefaultDeny[i]
				if e.Subject.Matches(set) {
					res.Enforced[e.Direction] = true
					if !slices.Contains(res.EnforcedBy[e.Direction], p.Name) {
						res.EnforcedBy[e.Direction] = append(res.EnforcedBy[e.Direction], p.Name)
					}
				}
			}
			for i := range p.Rules {
				if p.Rules[i].Subject.Matches(set) {
					rules = append(rules, &p.Rules[i])
					origins = append(origins, p.Name)
				}
			}
		}
		if r.mode == ModeAlways {
			res.Enforced = [2]bool{true, true}
		}
	}
	add := func(k MapKey, deny bool, origin string) {
		v := res.Entries[k]
		if deny && !v.Deny {
			v = Verdict{Deny: true}
		} else if !deny && v.Deny {
			return
		}
		if !slices.Contains(v.Policies, origin) {
			v.Policies = append(slices.Clip(v.Policies), origin)
		}
		res.Entries[k] = v
	}
	for dir := Ingress; dir <= Egress; dir++ {
		if !res.Enforced[dir] {
			add(MapKey{Direction: dir}, false, OriginAllowAll)
		}
	}
	if res.Enforced[Ingress] {
		// Cilium's allow-localhost: the node (kubelet probes) always
		// reaches its pods.
		add(MapKey{Identity: identity.IDHost, Direction: Ingress}, false, OriginLocalhost)
	}
	for i, rule := range rules {
		if !rule.Deny && !res.Enforced[rule.Direction] {
			continue // allows are moot where everything is allowed
		}
		var peers []identity.ID
		all := false
		for j := range rule.Peers {
			peer := &rule.Peers[j]
			if peer.All {
				all = true
				break
			}
			for id := range r.selected[peer] {
				peers = append(peers, id)
			}
		}
		if all {
			peers = []identity.ID{0}
		}
		for _, peer := range peers {
			dst := subject
			if rule.Direction == Egress {
				dst = peer
			}
			for _, k := range r.portKeys(rule.Ports, dst) {
				k.Identity, k.Direction = peer, rule.Direction
				add(k, rule.Deny, origins[i])
			}
		}
	}
	// Deny wins: drop allows that a deny of the same identity covers (a
	// deny of identity 0 is found by the datapath's second lookup).
	for k, v := range res.Entries {
		if v.Deny {
			continue
		}
		for _, a := range ancestors(k) {
			if d, ok := res.Entries[a]; ok && d.Deny {
				delete(res.Entries, k)
				break
			}
		}
	}
	return res
}

// ancestors lists the keys that cover k, k included.
func ancestors(k MapKey) []MapKey {
	out := []MapKey{{Identity: k.Identity, Direction: k.Direction}}
	if k.Proto == ProtoAny {
		return out
	}
	for bits := uint8(0); bits <= k.PortBits; bits++ {
		port := uint16(0)
		if bits > 0 {
			port = k.Port &^ (uint16(1)<<(16-bits) - 1)
		}
		out = append(out, MapKey{Identity: k.Identity, Direction: k.Direction, Proto: k.Proto, Port: port, PortBits: bits})
	}
	return out
}

// portKeys expands ports into map keys (identity and direction unset).
// Named ports resolve against dst's named ports; a name dst lacks matches
// nothing.
func (r *Resolver) portKeys(ports []PortProto, dst identity.ID) []MapKey {
	if len(ports) == 0 {
		return []MapKey{{}}
	}
	var out []MapKey
	for _, pp := range ports {
		if pp.Proto == ProtoAny {
			out = append(out, MapKey{})
			continue
		}
		if pp.Name != "" {
			for _, np := range r.named(dst, pp.Name) {
				if np.Proto == pp.Proto {
					out = append(out, MapKey{Proto: pp.Proto, Port: np.Port, PortBits: 16})
				}
			}
			continue
		}
		if pp.Lo == 0 {
			out = append(out, MapKey{Proto: pp.Proto})
			continue
		}
		for _, pfx := range PortPrefixes(pp.Lo, pp.Hi) {
			out = append(out, MapKey{Proto: pp.Proto, Port: pfx[0], PortBits: uint8(pfx[1])})
		}
	}
	return out
}

// named returns the ports called name on dst; for dst 0 (any peer) those of
// every identity.
func (r *Resolver) named(dst identity.ID, name string) []NamedPort {
	if dst != 0 {
		return r.namedPorts[dst][name]
	}
	var out []NamedPort
	for _, ports := range r.namedPorts {
		for _, np := range ports[name] {
			if !slices.Contains(out, np) {
				out = append(out, np)
			}
		}
	}
	return out
}
