package policy

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/hivenet/hivenet/cells/identity"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
)

// FromCiliumNetworkPolicy parses and validates a CiliumNetworkPolicy: its
// rules select endpoints of its namespace, and endpoint peers are of its
// namespace unless the selector names io.kubernetes.pod.namespace.
func FromCiliumNetworkPolicy(p *v2.CiliumNetworkPolicy) (*Policy, error) {
	return fromRules("CiliumNetworkPolicy "+p.Namespace+"/"+p.Name, p.Namespace, p.Spec, p.Specs)
}

// FromCiliumClusterwideNetworkPolicy parses and validates a
// CiliumClusterwideNetworkPolicy: no namespace applies.
func FromCiliumClusterwideNetworkPolicy(p *v2.CiliumClusterwideNetworkPolicy) (*Policy, error) {
	return fromRules("CiliumClusterwideNetworkPolicy "+p.Name, "", p.Spec, p.Specs)
}

func fromRules(name, ns string, spec *v2.Rule, specs []v2.Rule) (*Policy, error) {
	if spec == nil && len(specs) == 0 {
		return nil, invalid(name, "spec", "one of spec and specs is required")
	}
	out := &Policy{Name: name, Namespace: ns}
	add := func(field string, r *v2.Rule) error {
		return ciliumRule(out, name, field, ns, r)
	}
	if spec != nil {
		if err := add("spec", spec); err != nil {
			return nil, err
		}
	}
	for i := range specs {
		if err := add(fmt.Sprintf("specs[%d]", i), &specs[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scoped parses an endpoint selector, restricting it to namespace ns unless
// it names the namespace itself (or ns is empty).
func scoped(name, field, ns string, s *v2.EndpointSelector) (labels.Selector, error) {
	sel, err := selectorFrom(s.Meta(), "")
	if err != nil {
		return nil, invalid(name, field, "%v", err)
	}
	if ns != "" && !hasKey(sel, identity.PodNamespaceLabel) {
		sel = sel.Add(namespaceIs(ns))
	}
	return sel, nil
}

func ciliumRule(out *Policy, name, field, ns string, r *v2.Rule) error {
	if r.NodeSelector != nil {
		return unsupported(name, field+".nodeSelector", "host policies are not supported")
	}
	if r.EndpointSelector == nil {
		return invalid(name, field+".endpointSelector", "required")
	}
	subject, err := scoped(name, field+".endpointSelector", ns, r.EndpointSelector)
	if err != nil {
		return err
	}
	// The subject is always a pod, including for clusterwide policies.
	reqs, _ := podsOnly.Requirements()
	subject = subject.Add(reqs...)

	defaultDeny := func(d *bool) bool { return d == nil || *d }
	if (len(r.Ingress) > 0 || len(r.IngressDeny) > 0) && defaultDeny(r.EnableDefaultDeny.Ingress) {
		out.DefaultDeny = append(out.DefaultDeny, Enforcement{Subject: subject, Direction: Ingress})
	}
	if (len(r.Egress) > 0 || len(r.EgressDeny) > 0) && defaultDeny(r.EnableDefaultDeny.Egress) {
		out.DefaultDeny = append(out.DefaultDeny, Enforcement{Subject: subject, Direction: Egress})
	}
	addRule := func(f string, dir Direction, deny bool, peers peerSpec, ports []v2.PortRule, icmps []v2.ICMPRule) error {
		rule := Rule{Subject: subject, Direction: dir, Deny: deny}
		var err error
		if rule.Peers, err = peers.parse(name, f, ns); err != nil {
			return err
		}
		if rule.Ports, err = ciliumPorts(name, f, ports, icmps); err != nil {
			return err
		}
		if len(rule.Peers) == 0 {
			if len(ports) == 0 && len(icmps) == 0 {
				// "ingress: [{}]" selects nothing: it only enforces.
				return nil
			}
			rule.Peers = []Peer{{All: true}}
		}
		out.Rules = append(out.Rules, rule)
		return nil
	}
	for i, in := range r.Ingress {
		f := fmt.Sprintf("%s.ingress[%d]", field, i)
		if err := addRule(f, Ingress, false, ingressPeers(in.IngressCommonRule), in.ToPorts, in.ICMPs); err != nil {
			return err
		}
	}
	for i, in := range r.IngressDeny {
		f := fmt.Sprintf("%s.ingressDeny[%d]", field, i)
		if err := addRule(f, Ingress, true, ingressPeers(in.IngressCommonRule), denyPorts(in.ToPorts), in.ICMPs); err != nil {
			return err
		}
	}
	for i, e := range r.Egress {
		f := fmt.Sprintf("%s.egress[%d]", field, i)
		if len(e.ToFQDNs) > 0 {
			return unsupported(name, f+".toFQDNs", "DNS-based policy is not supported")
		}
		if err := addRule(f, Egress, false, egressPeers(e.EgressCommonRule), e.ToPorts, e.ICMPs); err != nil {
			return err
		}
	}
	for i, e := range r.EgressDeny {
		f := fmt.Sprintf("%s.egressDeny[%d]", field, i)
		if err := addRule(f, Egress, true, egressPeers(e.EgressCommonRule), denyPorts(e.ToPorts), e.ICMPs); err != nil {
			return err
		}
	}
	return nil
}

func denyPorts(ps []v2.PortDenyRule) []v2.PortRule {
	out := make([]v2.PortRule, len(ps))
	for i, p := range ps {
		out[i] = v2.PortRule{Ports: p.Ports}
	}
	return out
}

// peerSpec is the peer part of a rule in either direction, with the field
// names of that direction ("from"/"to").
type peerSpec struct {
	dir       string
	endpoints []v2.EndpointSelector
	requires  []v2.EndpointSelector
	cidrs     []v2.CIDR
	cidrSets  []v2.CIDRRule
	entities  []v2.Entity
	nodes     []v2.EndpointSelector
	services  []v2.Service
}

func ingressPeers(c v2.IngressCommonRule) peerSpec {
	return peerSpec{dir: "from", endpoints: c.FromEndpoints, requires: c.FromRequires, cidrs: c.FromCIDR,
		cidrSets: c.FromCIDRSet, entities: c.FromEntities, nodes: c.FromNodes}
}

func egressPeers(c v2.EgressCommonRule) peerSpec {
	return peerSpec{dir: "to", endpoints: c.ToEndpoints, requires: c.ToRequires, cidrs: c.ToCIDR,
		cidrSets: c.ToCIDRSet, entities: c.ToEntities, nodes: c.ToNodes, services: c.ToServices}
}

func (s peerSpec) parse(name, field, ns string) ([]Peer, error) {
	f := func(what string, i int) string { return fmt.Sprintf("%s.%s%s[%d]", field, s.dir, what, i) }
	if len(s.nodes) > 0 {
		return nil, unsupported(name, f("Nodes", 0), "node selectors are not supported (use the remote-node and host entities)")
	}
	if len(s.services) > 0 {
		return nil, unsupported(name, f("Services", 0), "toServices is not supported")
	}
	var requires []labels.Selector
	for i := range s.requires {
		sel, err := scoped(name, f("Requires", i), ns, &s.requires[i])
		if err != nil {
			return nil, err
		}
		requires = append(requires, sel)
	}
	var peers []Peer
	for i := range s.endpoints {
		sel, err := scoped(name, f("Endpoints", i), ns, &s.endpoints[i])
		if err != nil {
			return nil, err
		}
		peers = append(peers, Peer{Labels: sel, Requires: requires})
	}
	for i, c := range s.cidrs {
		p, _, err := parseCIDRSet(string(c), nil)
		if err != nil {
			return nil, invalid(name, f("CIDR", i), "%v", err)
		}
		peers = append(peers, Peer{CIDR: p})
	}
	for i, c := range s.cidrSets {
		if c.CIDRGroupRef != "" {
			return nil, unsupported(name, f("CIDRSet", i)+".cidrGroupRef", "CiliumCIDRGroup references are not supported")
		}
		ex := make([]string, len(c.ExceptCIDRs))
		for j, e := range c.ExceptCIDRs {
			ex[j] = string(e)
		}
		p, except, err := parseCIDRSet(string(c.Cidr), ex)
		if err != nil {
			return nil, invalid(name, f("CIDRSet", i), "%v", err)
		}
		peers = append(peers, Peer{CIDR: p, Except: except})
	}
	for i, e := range s.entities {
		p, err := entityPeer(e)
		if err != nil {
			return nil, invalid(name, f("Entities", i), "%v", err)
		}
		if p != nil {
			peers = append(peers, *p)
		}
	}
	return peers, nil
}

// entityPeer maps a Cilium entity to the identities it stands for.
func entityPeer(e v2.Entity) (*Peer, error) {
	switch e {
	case v2.EntityAll:
		return &Peer{All: true}, nil
	case v2.EntityWorld, v2.EntityWorldIPv4:
		return &Peer{World: true, Reserved: []identity.ID{identity.IDWorld}}, nil
	case v2.EntityWorldIPv6:
		return nil, nil // IPv4-only datapath: nothing to match
	case v2.EntityCluster:
		return &Peer{Cluster: true, Reserved: []identity.ID{identity.IDHost, identity.IDRemoteNode,
			identity.IDHealth, identity.IDInit, identity.IDUnmanaged, identity.IDKubeAPIServer, identity.IDIngress}}, nil
	case v2.EntityHost:
		return &Peer{Reserved: []identity.ID{identity.IDHost}}, nil
	case v2.EntityRemoteNode:
		return &Peer{Reserved: []identity.ID{identity.IDRemoteNode}}, nil
	case v2.EntityKubeAPIServer:
		return &Peer{Reserved: []identity.ID{identity.IDKubeAPIServer}}, nil
	case v2.EntityHealth:
		return &Peer{Reserved: []identity.ID{identity.IDHealth}}, nil
	case v2.EntityInit:
		return &Peer{Reserved: []identity.ID{identity.IDInit}}, nil
	case v2.EntityIngress:
		return &Peer{Reserved: []identity.ID{identity.IDIngress}}, nil
	case v2.EntityUnmanaged:
		return &Peer{Reserved: []identity.ID{identity.IDUnmanaged}}, nil
	case v2.EntityNone:
		return nil, nil
	}
	return nil, fmt.Errorf("unknown entity %q", e)
}

var icmpNames = map[string]uint16{"EchoReply": 0, "DestinationUnreachable": 3, "Redirect": 5, "EchoRequest": 8, "TimeExceeded": 11}

func ciliumPorts(name, field string, rules []v2.PortRule, icmps []v2.ICMPRule) ([]PortProto, error) {
	var out []PortProto
	for i, pr := range rules {
		f := fmt.Sprintf("%s.toPorts[%d]", field, i)
		if pr.Rules != nil && (len(pr.Rules.HTTP) > 0 || len(pr.Rules.DNS) > 0) {
			return nil, unsupported(name, f+".rules", "L7 (HTTP/DNS) rules are not supported")
		}
		if len(pr.Ports) == 0 {
			out = append(out, PortProto{Proto: ProtoAny})
		}
		for j, pp := range pr.Ports {
			pf := fmt.Sprintf("%s.ports[%d]", f, j)
			var protos []uint8
			switch pp.Protocol {
			case "", v2.ProtoAny:
				protos = []uint8{ProtoTCP, ProtoUDP, ProtoSCTP}
			case v2.ProtoTCP:
				protos = []uint8{ProtoTCP}
			case v2.ProtoUDP:
				protos = []uint8{ProtoUDP}
			case v2.ProtoSCTP:
				protos = []uint8{ProtoSCTP}
			case v2.ProtoICMP:
				protos = []uint8{ProtoICMP}
			default:
				return nil, unsupported(name, pf+".protocol", "%q is not supported", pp.Protocol)
			}
			var lo, hi uint16
			var portName string
			if pp.Port != "" && pp.Port != "0" {
				n, err := strconv.Atoi(pp.Port)
				switch {
				case err == nil && (n < 1 || n > 65535):
					return nil, invalid(name, pf+".port", "%d is out of range 1..65535", n)
				case err == nil:
					lo, hi = uint16(n), uint16(n)
				default:
					if errs := validation.IsValidPortName(pp.Port); len(errs) > 0 {
						return nil, invalid(name, pf+".port", "%q is neither a port number nor a port name: %s", pp.Port, errs[0])
					}
					portName = pp.Port
				}
			}
			if pp.EndPort != 0 {
				if lo == 0 {
					return nil, invalid(name, pf+".endPort", "endPort needs a numeric port")
				}
				if pp.EndPort < int32(lo) || pp.EndPort > 65535 {
					return nil, invalid(name, pf+".endPort", "%d must be between port (%d) and 65535", pp.EndPort, lo)
				}
				hi = uint16(pp.EndPort)
			}
			for _, proto := range protos {
				out = append(out, PortProto{Proto: proto, Lo: lo, Hi: hi, Name: portName})
			}
		}
	}
	for i, ic := range icmps {
		for j, fl := range ic.Fields {
			f := fmt.Sprintf("%s.icmps[%d].fields[%d]", field, i, j)
			if fl.Family == "IPv6" {
				return nil, unsupported(name, f+".family", "ICMPv6 is not supported")
			}
			if fl.Type == nil {
				return nil, invalid(name, f+".type", "required")
			}
			var t uint16
			if fl.Type.Type == 0 {
				if fl.Type.IntVal < 0 || fl.Type.IntVal > 255 {
					return nil, invalid(name, f+".type", "%d is out of range 0..255", fl.Type.IntVal)
				}
				t = uint16(fl.Type.IntVal)
			} else if n, ok := icmpNames[fl.Type.StrVal]; ok {
				t = n
			} else {
				return nil, invalid(name, f+".type", "unknown ICMP type %q", fl.Type.StrVal)
			}
			out = append(out, PortProto{Proto: ProtoICMP, Lo: t, Hi: t})
		}
	}
	return out, nil
}
