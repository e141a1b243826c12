// Package identity gives every distinct set of security-relevant labels a
// numeric security identity, the number policy is written against and the
// datapath enforces on.
//
// Identities come in three kinds, numbered as Cilium numbers them:
//
//   - reserved identities 1..8 (host, world, unmanaged, health, init,
//     remote-node, kube-apiserver, ingress), fixed;
//   - cluster identities from 256 up, one per label set of a pod (its labels,
//     io.kubernetes.pod.namespace and its namespace's labels under
//     io.cilium.k8s.namespace.labels.*), allocated cluster-wide through
//     CiliumIdentity objects whose name is the number: agents race by
//     creating the object and the API server refuses all but one;
//   - local identities for CIDRs named in policies, from 1<<24 up, which
//     never leave the node.
//
// [Labels] computes a pod's label set, [Allocator] finds or creates its
// cluster identity through a [Backend], and the agent [Cell] keeps the
// identities and pod-identities tables. [GCCell] is the operator's garbage
// collector of identities no endpoint uses.
//
// Sentinel errors: [ErrConflict], [ErrExhausted].
package identity
