package nodes

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"

	"github.com/hivenet/hivenet/cells/ipam"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
)

// Derive merges the Node and the CiliumNode of one node (either may be nil,
// not both) into a row of the nodes table. The internal IP is the Node's
// (kubelet reports it) unless it has none; pod CIDRs and router address are
// the CiliumNode's, as in Cilium: they are what the node's agent actually
// allocates from (with --ipam=static that is not the Node's spec.podCIDR),
// falling back to the Node's spec.podCIDRs before the agent published them.
// Unparsable addresses and prefixes are ignored.
func Derive(n *corev1.Node, cn *v2.CiliumNode, localName string) *Node {
	out := &Node{}
	if n != nil {
		out.Name = n.Name
		out.InternalIP = nodeInternalIP(n)
		out.PodCIDRs = nodePodCIDRs(n)
	}
	var ciliumRouter netip.Addr
	if cn != nil {
		out.Name = cn.Name
		for _, a := range cn.Spec.Addresses {
			ip, err := netip.ParseAddr(a.IP)
			if err != nil {
				continue
			}
			switch a.Type {
			case v2.NodeInternalIP:
				if !out.InternalIP.IsValid() && ip.Is4() {
					out.InternalIP = ip
				}
			case v2.NodeCiliumIntIP:
				if !ciliumRouter.IsValid() && ip.Is4() {
					ciliumRouter = ip
				}
			}
		}
		if cidrs := parsePrefixes(cn.Spec.IPAM.PodCIDRs); len(cidrs) > 0 {
			out.PodCIDRs = cidrs
		}
		out.WireguardPubKey = cn.Annotations[v2.WireguardPubKeyAnnotation]
	}
	out.Local = out.Name == localName
	if cidr, ok := out.PodCIDR4(); ok {
		out.RouterIP = ipam.RouterOf(cidr)
		// A CiliumNode's router address counts only inside the pod CIDR:
		// outside it, no route this cell derives could reach it.
		if ciliumRouter.IsValid() && cidr.Contains(ciliumRouter) {
			out.RouterIP = ciliumRouter
		}
	}
	return out
}

// nodeInternalIP is the first IPv4 InternalIP of the Node's status, else its
// first IPv4 ExternalIP.
func nodeInternalIP(n *corev1.Node) netip.Addr {
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP} {
		for _, a := range n.Status.Addresses {
			if a.Type != t {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is4() {
				return ip
			}
		}
	}
	return netip.Addr{}
}

// nodePodCIDRs are spec.podCIDRs (or spec.podCIDR), IPv4 first.
func nodePodCIDRs(n *corev1.Node) []netip.Prefix {
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	return parsePrefixes(cidrs)
}

func parsePrefixes(ss []string) []netip.Prefix {
	var v4, v6 []netip.Prefix
	for _, s := range ss {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			continue
		}
		if p.Addr().Is4() {
			v4 = append(v4, p.Masked())
		} else {
			v6 = append(v6, p.Masked())
		}
	}
	return append(v4, v6...)
}
