// Package nodes is the nodes cell: the "nodes" table of every node of the
// cluster as the datapath needs it (name, internal IP, pod CIDRs, router IP,
// WireGuard key), and this agent's own CiliumNode.
//
// The table is derived from the k8s-nodes table (the Node objects kubelets
// register and the controller-manager gives pod CIDRs) and the
// k8s-ciliumnodes table, which fills what a Node lacks: addresses and pod
// CIDRs of a node whose Node object has none, the router address
// (CiliumInternalIP) and the WireGuard public key annotation. It reads as
// initialised once both inputs are, so routing never prunes on a partial view.
//
// The agent keeps its CiliumNode (named after its node, owned by the Node so
// the garbage collector removes it with the node) equal to what its Node
// says: InternalIP and CiliumInternalIP addresses and spec.ipam.podCIDRs.
// Writes that fail (API server down) are retried with backoff.
package nodes
