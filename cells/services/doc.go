// Package services is the kube-proxy replacement: it turns Kubernetes
// Services and EndpointSlices into load-balancer state and that state into
// the datapath's lb4 maps.
//
// Three tables, shaped like Cilium's load balancer, are derived from the
// k8s-services and k8s-endpointslices tables:
//
//   - services: one row per Service: session affinity, traffic policies,
//     health-check node port;
//   - frontends: one row per address a Service answers on (ClusterIP,
//     NodePort, LoadBalancer ingress IP, external IP) and port, with the
//     backends it balances over and its reconciliation status;
//   - backends: one row per backend address, with its state (active,
//     terminating, quarantined), node and zone, and its id in the maps.
//
// Derivation follows kube-proxy: named targetPorts resolve per backend
// (each EndpointSlice carries the port its endpoints use), only ready
// endpoints serve unless none is left, in which case serving terminating
// ones do, and the Local traffic policies keep only this node's endpoints.
//
// The frontends table is reconciled into cilium_lb4_services_v2 (slot 0 and
// slots 1..N), cilium_lb4_backends_v3, cilium_lb4_reverse_nat and
// cilium_lb4_maglev by the generic reconciler. Frontend and backend ids are
// restored from the pinned maps when the agent starts, so conntrack entries
// and maps stay valid across restarts.
//
// Errors: [ErrIDsExhausted] when no frontend or backend id is left.
package services
