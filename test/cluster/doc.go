// Package cluster is the cluster-in-a-box: a real Kubernetes control plane
// (package box) plus nodes, pods and an outside client, all on one Linux host
// with no container runtime.
//
//   - The nodes share one L2 segment, a bridge in the host namespace whose
//     address is also where the API server and the box's DNS listen.
//   - Each node is a network namespace on the bridge running its own
//     hivenet-agent (under nsenter --net, so its bpffs pins live in the host's
//     mount namespace and survive agent restarts), with its own bpffs root,
//     state directory and API socket. The box registers the Node objects as a
//     kubelet would; the controller-manager allocates their pod CIDRs.
//   - A scheduler binds pending pods to nodes, and one pod runner per node
//     plays the kubelet: it creates the pod's network namespace, runs
//     hivenet-cni ADD exactly as a runtime does, starts the containers as
//     processes inside the namespace (command/args run as local programs; a
//     few images are built in), reports status, and on deletion stops the
//     processes and runs CNI DEL.
//   - The client is one more namespace on the bridge, outside the cluster.
//
// The box's DNS answers <service>.<namespace>.svc.cluster.local with the
// service's ClusterIP; pods get a resolv.conf pointing at it through
// /etc/netns/<pod namespace>/, which `ip netns exec` bind-mounts.
package cluster
