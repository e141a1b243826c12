package policy

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/hivenet/hivenet/cells/identity"
)

// FromNetworkPolicy parses and validates a networking.k8s.io/v1
// NetworkPolicy with Kubernetes' semantics: policyTypes inferred when
// absent, each listed direction put into default deny for the selected
// pods, peers ORed with podSelector and namespaceSelector ANDed within one
// peer, an empty from/to list meaning every peer, an empty ports list every
// port. The error wraps ErrInvalid and names the field.
func FromNetworkPolicy(np *networkingv1.NetworkPolicy) (*Policy, error) {
	name := "NetworkPolicy " + np.Namespace + "/" + np.Name
	subject, err := selectorFrom(&np.Spec.PodSelector, "")
	if err != nil {
		return nil, invalid(name, "spec.podSelector", "%v", err)
	}
	subject = subject.Add(namespaceIs(np.Namespace))
	p := &Policy{Name: name, Namespace: np.Namespace}

	types := np.Spec.PolicyTypes
	if len(types) == 0 {
		types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) > 0 {
			types = append(types, networkingv1.PolicyTypeEgress)
		}
	}
	var ingress, egress bool
	for i, t := range types {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		default:
			return nil, invalid(name, fmt.Sprintf("spec.policyTypes[%d]", i), "%q is neither Ingress nor Egress", t)
		}
	}
	if ingress {
		p.DefaultDeny = append(p.DefaultDeny, Enforcement{Subject: subject, Direction: Ingress})
		for i, r := range np.Spec.Ingress {
			rule, err := npRule(name, fmt.Sprintf("spec.ingress[%d]", i), "from", np.Namespace, subject, Ingress, r.From, r.Ports)
			if err != nil {
				return nil, err
			}
			p.Rules = append(p.Rules, rule)
		}
	}
	if egress {
		p.DefaultDeny = append(p.DefaultDeny, Enforcement{Subject: subject, Direction: Egress})
		for i, r := range np.Spec.Egress {
			rule, err := npRule(name, fmt.Sprintf("spec.egress[%d]", i), "to", np.Namespace, subject, Egress, r.To, r.Ports)
			if err != nil {
				return nil, err
			}
			p.Rules = append(p.Rules, rule)
		}
	}
	return p, nil
}

func npRule(name, field, peersField, ns string, subject selectorT, dir Direction,
	peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) (Rule, error) {
	rule := Rule{Subject: subject, Direction: dir}
	if len(peers) == 0 {
		rule.Peers = []Peer{{All: true}}
	}
	for j, peer := range peers {
		f := fmt.Sprintf("%s.%s[%d]", field, peersField, j)
		pp, err := npPeer(name, f, ns, peer)
		if err != nil {
			return Rule{}, err
		}
		rule.Peers = append(rule.Peers, pp)
	}
	for j, port := range ports {
		pp, err := npPort(name, fmt.Sprintf("%s.ports[%d]", field, j), port)
		if err != nil {
			return Rule{}, err
		}
		rule.Ports = append(rule.Ports, pp)
	}
	return rule, nil
}

func npPeer(name, field, ns string, peer networkingv1.NetworkPolicyPeer) (Peer, error) {
	if peer.IPBlock != nil {
		if peer.PodSelector != nil || peer.NamespaceSelector != nil {
			return Peer{}, invalid(name, field, "ipBlock cannot be combined with podSelector or namespaceSelector")
		}
		cidr, except, err := parseCIDRSet(peer.IPBlock.CIDR, peer.IPBlock.Except)
		if err != nil {
			return Peer{}, invalid(name, field+".ipBlock", "%v", err)
		}
		return Peer{CIDR: cidr, Except: except}, nil
	}
	if peer.PodSelector == nil && peer.NamespaceSelector == nil {
		return Peer{}, invalid(name, field, "must set one of podSelector, namespaceSelector, ipBlock")
	}
	pods, err := selectorFrom(peer.PodSelector, "")
	if err != nil {
		return Peer{}, invalid(name, field+".podSelector", "%v", err)
	}
	if peer.NamespaceSelector == nil {
		return Peer{Labels: pods.Add(namespaceIs(ns))}, nil
	}
	nss, err := selectorFrom(peer.NamespaceSelector, identity.NamespaceLabelsPrefix)
	if err != nil {
		return Peer{}, invalid(name, field+".namespaceSelector", "%v", err)
	}
	if pods != nil {
		reqs, _ := pods.Requirements()
		nss = nss.Add(reqs...)
	}
	// Namespace labels exist only on pod identities: an empty
	// namespaceSelector selects every pod of the cluster, not the world.
	return Peer{Labels: nss, Requires: []selectorT{podsOnly}}, nil
}

func npPort(name, field string, port networkingv1.NetworkPolicyPort) (PortProto, error) {
	proto := corev1.ProtocolTCP
	if port.Protocol != nil {
		proto = *port.Protocol
	}
	var pp PortProto
	switch proto {
	case corev1.ProtocolTCP:
		pp.Proto = ProtoTCP
	case corev1.ProtocolUDP:
		pp.Proto = ProtoUDP
	case corev1.ProtocolSCTP:
		pp.Proto = ProtoSCTP
	default:
		return pp, invalid(name, field+".protocol", "%q is not TCP, UDP or SCTP", proto)
	}
	if port.Port == nil {
		if port.EndPort != nil {
			return pp, invalid(name, field+".endPort", "endPort needs port")
		}
		return pp, nil
	}
	if port.Port.Type == intstr.String {
		n := port.Port.StrVal
		if errs := validation.IsValidPortName(n); len(errs) > 0 {
			return pp, invalid(name, field+".port", "%q: %s", n, errs[0])
		}
		if port.EndPort != nil {
			return pp, invalid(name, field+".endPort", "endPort cannot be used with the named port %q", n)
		}
		pp.Name = n
		return pp, nil
	}
	lo := port.Port.IntVal
	if lo < 1 || lo > 65535 {
		return pp, invalid(name, field+".port", "%d is out of range 1..65535", lo)
	}
	hi := lo
	if port.EndPort != nil {
		hi = *port.EndPort
		if hi < lo || hi > 65535 {
			return pp, invalid(name, field+".endPort", "%d must be between port (%d) and 65535", hi, lo)
		}
	}
	pp.Lo, pp.Hi = uint16(lo), uint16(hi)
	return pp, nil
}

// parseCIDRSet parses a CIDR and its exceptions, which must lie inside it.
func parseCIDRSet(cidr string, except []string) (netip.Prefix, []netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return p, nil, fmt.Errorf("cidr %q: %v", cidr, err)
	}
	p = p.Masked()
	var out []netip.Prefix
	for i, e := range except {
		ep, err := netip.ParsePrefix(e)
		if err != nil {
			return p, nil, fmt.Errorf("except[%d] %q: %v", i, e, err)
		}
		if !contains(p, ep.Masked()) {
			return p, nil, fmt.Errorf("except[%d] %s is not inside cidr %s", i, e, p)
		}
		out = append(out, ep.Masked())
	}
	return p, out, nil
}
