package routing

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hivenet/hivenet/cells/nodes"
	"github.com/hivenet/hivenet/reconcilers/netlink"
)

// DeviceName is the VXLAN device of tunnel mode.
const DeviceName = "hivenet_vxlan"

// VNI is the VXLAN network identifier of hivenet's tunnel. Nodes only talk
// to nodes, so one segment is enough.
const VNI = 2

// VTEPMAC is the MAC of the VXLAN device of the node whose internal IP is
// ip: locally administered (0a), then "h" (0x68), then the IPv4 address.
func VTEPMAC(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x0a, 0x68, b[0], b[1], b[2], b[3]}
}

// Desired derives the routes and tunnel peers that make the pods of every
// remote node in all reachable, for the given mode. Nodes without an
// internal IPv4 address or IPv4 pod CIDR yet are left out until they have
// both. A pod CIDR claimed by two nodes, or overlapping this node's, is
// given to nobody: a wrong route is worse than a missing one. The output is
// sorted by destination (routes) and IP (peers).
func Desired(mode string, all []*nodes.Node) ([]*Route, []*Peer) {
	var local *nodes.Node
	for _, n := range all {
		if n.Local {
			local = n
		}
	}
	var localCIDR netip.Prefix
	if local != nil {
		localCIDR, _ = local.PodCIDR4()
	}
	claims := map[netip.Prefix]int{}
	for _, n := range all {
		if cidr, ok := n.PodCIDR4(); ok {
			claims[cidr]++
		}
	}
	var (
		routes []*Route
		peers  []*Peer
	)
	for _, n := range all {
		cidr, ok := n.PodCIDR4()
		if n.Local || !ok || !n.InternalIP.Is4() || claims[cidr] > 1 {
			continue
		}
		if localCIDR.IsValid() && localCIDR.Overlaps(cidr) {
			continue
		}
		if local != nil && local.InternalIP == n.InternalIP {
			continue
		}
		switch mode {
		case ModeNative:
			routes = append(routes, &Route{Node: n.Name, Route: netlink.Route{Dst: cidr, Gw: n.InternalIP}})
		case ModeTunnel:
			if !n.RouterIP.Is4() {
				continue
			}
			// The gateway must be reachable on the device, hence the
			// link-scope host route to the remote router, as Cilium does
			// for its cilium_host routes.
			routes = append(routes,
				&Route{Node: n.Name, Route: netlink.Route{
					Dst: netip.PrefixFrom(n.RouterIP, 32), Device: DeviceName, Scope: unix.RT_SCOPE_LINK,
				}},
				&Route{Node: n.Name, Route: netlink.Route{Dst: cidr, Gw: n.RouterIP, Device: DeviceName}},
			)
			peers = append(peers, &Peer{Node: n.Name, IP: n.RouterIP, MAC: VTEPMAC(n.InternalIP), VTEP: n.InternalIP})
		}
	}
	slices.SortFunc(routes, func(a, b *Route) int {
		return a.Route.Dst.Addr().Compare(b.Route.Dst.Addr())*2 + cmpInt(a.Route.Dst.Bits(), b.Route.Dst.Bits())
	})
	slices.SortFunc(peers, func(a, b *Peer) int { return a.IP.Compare(b.IP) })
	return routes, peers
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ErrContestedPodCIDR is reported (as degraded health) while two nodes
// claim the same pod CIDR; neither gets a route until one of them changes.
var ErrContestedPodCIDR = errors.New("pod CIDR claimed by several nodes")

// contested returns an error naming every IPv4 pod CIDR that more than one
// node claims, or nil.
func contested(all []*nodes.Node) error {
	claims := map[netip.Prefix][]string{}
	for _, n := range all {
		if cidr, ok := n.PodCIDR4(); ok {
			claims[cidr] = append(claims[cidr], n.Name)
		}
	}
	var msgs []string
	for cidr, names := range claims {
		if len(names) > 1 {
			slices.Sort(names)
			msgs = append(msgs, fmt.Sprintf("%s by %s", cidr, strings.Join(names, ", ")))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	slices.Sort(msgs)
	return fmt.Errorf("%w: %s (with --ipam=static, give each node its own --ipv4-range)", ErrContestedPodCIDR, strings.Join(msgs, "; "))
}
