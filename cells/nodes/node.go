package nodes

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

// TableName is the nodes table's name.
const TableName = "nodes"

// Node is one node of the cluster. Objects in the table are immutable.
type Node struct {
	Name string `json:"name"`
	// Local is true for the node this agent runs on.
	Local bool `json:"local,omitempty"`
	// InternalIP is the address other nodes reach it at (tunnel endpoint,
	// native-routing next hop); invalid while unknown.
	InternalIP netip.Addr `json:"internalIP"`
	// PodCIDRs are the node's pod prefixes, IPv4 first.
	PodCIDRs []netip.Prefix `json:"podCIDRs,omitempty"`
	// RouterIP is the node's pod gateway address (Cilium's
	// CiliumInternalIP): the first usable address of its IPv4 pod CIDR
	// unless its CiliumNode says otherwise.
	RouterIP netip.Addr `json:"routerIP"`
	// WireguardPubKey is the base64 public key from the CiliumNode's
	// network.cilium.io/wg-pub-key annotation, if any.
	WireguardPubKey string `json:"wireguardPubKey,omitempty"`
}

// PodCIDR4 is the node's first IPv4 pod CIDR, if any.
func (n *Node) PodCIDR4() (netip.Prefix, bool) {
	for _, p := range n.PodCIDRs {
		if p.Addr().Is4() {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// Equal reports whether two nodes carry the same data.
func (n *Node) Equal(o *Node) bool {
	return n.Name == o.Name && n.Local == o.Local && n.InternalIP == o.InternalIP &&
		slices.Equal(n.PodCIDRs, o.PodCIDRs) && n.RouterIP == o.RouterIP &&
		n.WireguardPubKey == o.WireguardPubKey
}

// TableHeader implements statedb's row rendering.
func (n *Node) TableHeader() []string {
	return []string{"Name", "Local", "InternalIP", "PodCIDRs", "RouterIP", "WireGuard"}
}

// TableRow implements statedb's row rendering.
func (n *Node) TableRow() []string {
	cidrs := make([]string, len(n.PodCIDRs))
	for i, p := range n.PodCIDRs {
		cidrs[i] = p.String()
	}
	local := ""
	if n.Local {
		local = "yes"
	}
	return []string{n.Name, local, addrString(n.InternalIP), strings.Join(cidrs, ","), addrString(n.RouterIP), n.WireguardPubKey}
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

var (
	// ByName is the primary index.
	ByName = statedb.Index[*Node, string]{
		Name:       "name",
		FromObject: func(n *Node) index.KeySet { return index.NewKeySet(index.String(n.Name)) },
		FromKey:    index.String,
		FromString: index.FromString,
		Unique:     true,
	}
	// ByLocal finds this agent's own node (key true).
	ByLocal = statedb.Index[*Node, bool]{
		Name:       "local",
		FromObject: func(n *Node) index.KeySet { return index.NewKeySet(index.Bool(n.Local)) },
		FromKey:    index.Bool,
		FromString: func(s string) (index.Key, error) { return index.Bool(s == "true"), nil },
	}
)

// NewTable makes the nodes table.
func NewTable() (statedb.RWTable[*Node], error) {
	return statedb.NewTable(TableName, ByName, ByLocal)
}
