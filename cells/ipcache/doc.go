// Package ipcache keeps the node's table of prefix → security identity (+
// tunnel endpoint, encryption key slot, flags), the datapath's answer to
// "who is this address" for policy on traffic from and to other nodes and
// the outside world.
//
// Entries come from, by precedence: local endpoints, pods of other nodes
// (their CiliumEndpoint objects), nodes (host and remote-node), and the CIDR
// identities of prefixes named in policies, with 0.0.0.0/0 as the world.
// [Desired] derives the entries; the [Cell] keeps the ipcache table equal to
// it and reconciles the table into the pinned LPM map cilium_ipcache in
// Cilium's key/value layout ([Key], [Value]). It also publishes this node's
// endpoints as CiliumEndpoint objects, which is how the other nodes learn
// them.
package ipcache
