package routing

import (
	"net"
	"net/netip"

	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/reconcilers/netlink"
	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

// Table names.
const (
	RoutesTableName = "routes"
	PeersTableName  = "tunnel-peers"
)

// Route is a desired route in the main routing table.
type Route struct {
	// Node is the node the route leads to.
	Node  string        `json:"node"`
	Route netlink.Route `json:"route"`

	Status reconcilers.Status `json:"status"`
}

// TableHeader implements statedb's row rendering.
func (r *Route) TableHeader() []string { return []string{"Destination", "Route", "Node", "Status"} }

// TableRow implements statedb's row rendering.
func (r *Route) TableRow() []string {
	return []string{r.Route.Dst.String(), r.Route.String(), r.Node, r.Status.String()}
}

func (r *Route) sameAs(o *Route) bool { return r.Node == o.Node && r.Route == o.Route }
func (r *Route) primaryKey() string   { return r.Route.Dst.String() }
func (r *Route) markPending()         { r.Status = reconcilers.StatusPending() }

// RouteByDst is the routes table's primary index.
var RouteByDst = statedb.Index[*Route, netip.Prefix]{
	Name:       "dst",
	FromObject: func(r *Route) index.KeySet { return index.NewKeySet(index.NetIPPrefix(r.Route.Dst)) },
	FromKey:    index.NetIPPrefix,
	FromString: index.NetIPPrefixString,
	Unique:     true,
}

// NewRoutesTable makes the routes table.
func NewRoutesTable() (statedb.RWTable[*Route], error) {
	return statedb.NewTable(RoutesTableName, RouteByDst)
}

// Peer is a remote node's tunnel endpoint: its router IP resolves to MAC on
// the VXLAN device, and frames to MAC go to VTEP.
type Peer struct {
	Node string           `json:"node"`
	IP   netip.Addr       `json:"ip"`
	MAC  net.HardwareAddr `json:"mac"`
	VTEP netip.Addr       `json:"vtep"`

	Status reconcilers.Status `json:"status"`
}

// TableHeader implements statedb's row rendering.
func (p *Peer) TableHeader() []string { return []string{"Node", "IP", "MAC", "VTEP", "Status"} }

// TableRow implements statedb's row rendering.
func (p *Peer) TableRow() []string {
	return []string{p.Node, p.IP.String(), p.MAC.String(), p.VTEP.String(), p.Status.String()}
}

func (p *Peer) sameAs(o *Peer) bool {
	return p.Node == o.Node && p.IP == o.IP && p.MAC.String() == o.MAC.String() && p.VTEP == o.VTEP
}

func (p *Peer) primaryKey() string { return p.IP.String() }
func (p *Peer) markPending()       { p.Status = reconcilers.StatusPending() }

// PeerByIP is the tunnel-peers table's primary index.
var PeerByIP = statedb.Index[*Peer, netip.Addr]{
	Name:       "ip",
	FromObject: func(p *Peer) index.KeySet { return index.NewKeySet(index.NetIPAddr(p.IP)) },
	FromKey:    index.NetIPAddr,
	FromString: index.NetIPAddrString,
	Unique:     true,
}

// NewPeersTable makes the tunnel-peers table.
func NewPeersTable() (statedb.RWTable[*Peer], error) {
	return statedb.NewTable(PeersTableName, PeerByIP)
}
