// Package routing is the routing cell: it makes pods on other nodes
// reachable, following --routing-mode as Cilium does.
//
//   - native: one route per remote node, its IPv4 pod CIDR via its internal
//     IP. The nodes must share an L2 segment (or the network must route pod
//     CIDRs); traffic to the cluster CIDR must not be masqueraded, so with
//     --enable-ipv4-masquerade the agent refuses to start without
//     --ipv4-native-routing-cidr, as Cilium does.
//   - tunnel (the default; --tunnel-protocol=vxlan, UDP --tunnel-port 8472
//     as Cilium's vxlan): a VXLAN device hivenet_vxlan plus, per remote
//     node, a route to its pod CIDR via its router IP on that device, a
//     permanent neighbour entry giving the router IP the node's VTEP MAC,
//     and an FDB entry sending that MAC to the node's internal IP. A VTEP
//     MAC is derived from the node's internal IP (VTEPMAC), so every node
//     knows every other's without publishing it, and each agent sets its
//     device's MAC from its own internal IP.
//
// MTU: the VXLAN device keeps the kernel's default of 1500, so a full-sized
// pod packet still crosses (its outer UDP packet is fragmented on the
// underlay) rather than being dropped; for full speed give pods an MTU 50
// bytes below the underlay's (--mtu=1450 on a 1500-byte network), as the
// multi-node tests do.
//
// Desired state is two tables derived from the nodes table: "routes"
// (reconciled by the reconcilers/netlink route Operations into the main
// table, owning only routes of hivenet's protocol 211) and, in tunnel mode,
// "tunnel-peers" (neighbour and FDB entries on hivenet_vxlan). Both read as
// initialised only once the nodes table is, so a restarted agent prunes
// nothing it would re-add: routes of live nodes stay in the kernel while it
// restarts, and forwarding continues while the API server is away.
//
// Sentinel errors: ErrContestedPodCIDR.
//
// Routes of protocol 211 in the main table belong to this cell's reconciler:
// another cell that needs such routes should write rows into "routes".
package routing
