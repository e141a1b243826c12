// Package ipam is the IPAM cell: it hands out pod IPv4 addresses from the
// node's pod CIDR, one per endpoint, and keeps them in the "ipam" table.
//
// Allocations are persisted in the state directory on every change, so a
// restarted agent gives no running pod's address to another. The first usable
// address of the range is the node's router (gateway) address, as in Cilium.
//
// Sentinel errors: ErrPoolExhausted, ErrNotStarted.
package ipam
