// Package netlink reconciles desired routes, addresses and neighbours into
// a network namespace through rtnetlink.
//
// Each Ops type is generic over the table's object type T and takes a
// function that turns an object into the kernel object it asks for, so any
// desired-state table can drive it. They implement reconcilers.Operations.
//
// Ownership. A reconciler must never remove what it did not create:
//   - Routes carry [RouteProtocol] ("proto 211" in `ip route`); only routes
//     with that protocol in the configured table are pruned or deleted, and
//     an update never replaces a route another protocol installed.
//   - Addresses and neighbours have no owner field the kernel keeps for us,
//     so their Ops own exactly the links they are given, and prune only
//     there. Neighbour pruning also only considers permanent entries, never
//     ones the kernel learnt.
//
// Sentinel errors: [ErrForeignRoute].
package netlink
