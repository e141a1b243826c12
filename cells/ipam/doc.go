// Package ipam is the IPAM cell: it hands out pod IPv4 addresses from the
// node's pod CIDR, one per endpoint, and keeps them in the "ipam" table.
//
// Allocations are persisted in the state directory on every change, so a
// restarted agent gives no running pod's address to another. The first usable
// address of the range is the node's router (gateway) address, as in Cilium.
//
// The pod CIDR comes from the ipam flag's mode: "kubernetes" takes spec.podCIDR
// of this node's Node object from the k8s-nodes table (CNI ADD answers "try
// again later" until it is known), "static" takes --ipv4-range.
//
// Sentinel errors: ErrPoolExhausted, ErrNotStarted, ErrPodCIDRChanged.
package ipam
