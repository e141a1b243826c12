package ipcache

import (
	"net/netip"

	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/identity"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/nodes"
)

// Inputs are what the ipcache is derived from.
type Inputs struct {
	Endpoints  []*endpoints.Endpoint
	CEPs       []*v2.CiliumEndpoint
	Nodes      []*nodes.Node
	Identities []*identity.Identity
}

// worldPrefix is where every address nothing else claims falls.
var worldPrefix = netip.MustParsePrefix("0.0.0.0/0")

// Desired derives the ipcache entries. Where sources claim the same
// prefix, the higher Source wins (a local endpoint over a stale
// CiliumEndpoint of the same address, a pod over a CIDR).
func Desired(in Inputs) map[netip.Prefix]*Entry {
	out := map[netip.Prefix]*Entry{}
	put := func(e *Entry) {
		if old, ok := out[e.Prefix]; ok && old.Source > e.Source {
			return
		}
		out[e.Prefix] = e
	}
	put(&Entry{Prefix: worldPrefix, Identity: identity.IDWorld, Source: SourceCIDR, Owner: "reserved:world"})
	for _, id := range in.Identities {
		if id.Kind == identity.KindCIDR && id.Prefix.Addr().Is4() {
			put(&Entry{Prefix: id.Prefix, Identity: id.ID, Source: SourceCIDR, Owner: id.Prefix.String()})
		}
	}
	var localIP netip.Addr
	for _, n := range in.Nodes {
		id, tunnel := identity.IDRemoteNode, n.InternalIP
		if n.Local {
			id, tunnel, localIP = identity.IDHost, netip.Addr{}, n.InternalIP
		}
		for _, a := range []netip.Addr{n.InternalIP, n.RouterIP} {
			if a.Is4() {
				put(&Entry{Prefix: netip.PrefixFrom(a, 32), Identity: id, TunnelEndpoint: tunnel, Source: SourceNode, Owner: "node/" + n.Name})
			}
		}
	}
	for _, cep := range in.CEPs {
		st := cep.Status
		if st.Identity == nil || st.Identity.ID <= 0 || st.Networking == nil {
			continue
		}
		node, _ := netip.ParseAddr(st.Networking.NodeIP)
		if node.IsValid() && node == localIP {
			// Local pods come from the endpoints table, which is current.
			continue
		}
		for _, a := range st.Networking.Addressing {
			ip, err := netip.ParseAddr(a.IPV4)
			if err != nil || !ip.Is4() {
				continue
			}
			e := &Entry{Prefix: netip.PrefixFrom(ip, 32), Identity: uint32(st.Identity.ID), Source: SourceRemotePod,
				Owner: cep.Namespace + "/" + cep.Name}
			if node.Is4() {
				e.TunnelEndpoint = node
			}
			put(e)
		}
	}
	for _, ep := range in.Endpoints {
		if ep.Identity == 0 || !ep.IPv4.IsValid() {
			continue
		}
		put(&Entry{Prefix: netip.PrefixFrom(ep.IPv4, 32), Identity: ep.Identity, Source: SourceEndpoint, Owner: ep.PodName()})
	}
	return out
}
