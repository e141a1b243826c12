// Package k8s brings the Kubernetes API into hivenet's tables.
//
// It provides, as hive cells:
//   - ClientCell: the client configuration flags (k8s-kubeconfig-path,
//     k8s-api-server, k8s-client-qps, k8s-client-burst) and the shared
//     *client.Clientset, falling back to the in-cluster configuration;
//   - AgentTables and OperatorTables: statedb tables of pods, namespaces,
//     services, endpointslices, nodes, networkpolicies and the cilium.io
//     kinds, each filled by a reflector (package reflector) that lists and
//     watches the API. A table reads as initialised only once its first
//     listing is in, so nothing prunes on a partial view.
//
// Objects in the tables are the API objects themselves (with managedFields
// dropped), keyed by "namespace/name" (or "name" for cluster-scoped kinds).
// They are shared with every reader and must not be modified.
//
// The cilium.io API types are in cells/k8s/apis, their CRDs in cells/k8s/crds.
package k8s
