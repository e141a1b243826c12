package cmd

import (
	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/datapath"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/identity"
	"github.com/hivenet/hivenet/cells/ipam"
	"github.com/hivenet/hivenet/cells/ipcache"
	"github.com/hivenet/hivenet/cells/k8s"
	"github.com/hivenet/hivenet/cells/masquerade"
	"github.com/hivenet/hivenet/cells/nodes"
	"github.com/hivenet/hivenet/cells/observe"
	"github.com/hivenet/hivenet/cells/policy"
	"github.com/hivenet/hivenet/cells/routing"
	"github.com/hivenet/hivenet/cells/services"
	"github.com/hivenet/hivenet/cells/statedir"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/statedb"
)

// DefaultSocketPath is where the agent serves its API unless --socket-path
// says otherwise; the CLI looks there by default.
const DefaultSocketPath = "/var/run/hivenet/hivenet.sock"

// Agent is every cell of the agent. Features are added here behind their
// enable-... switches as they land.
var Agent = cell.Group(
	api.Cell("hivenet-agent", api.Config{SocketPath: DefaultSocketPath}),
	kernelCell,
	statedb.Cell,
	reconcilers.Cell,
	statedir.Cell,
	datapath.Cell,
	ipam.Cell,
	endpoints.Cell,
	masquerade.Cell,
	observe.Cell,
	// Cilium's agent has the same (hidden) switch; off, the agent wires pods
	// for a runtime that calls hivenet-cni without any API server, which is
	// how the node-level tests run it.
	cell.Feature("enable-k8s", "Watch the Kubernetes API (pods, services, policies, nodes, cilium.io objects)", true,
		k8s.ClientCell,
		k8s.AgentCell,
		cell.Feature("kube-proxy-replacement", "Serve Kubernetes Services from BPF maps (ClusterIP, NodePort, LoadBalancer, externalIPs) instead of kube-proxy", true,
			services.Cell),
		nodes.Cell,
		routing.Cell,
		identity.Cell, ipcache.Cell, policy.Cell,
	),
)

// Command is the agent's command line: flags grouped by module, `hive` to
// inspect the composition, and running it runs the agent until SIGTERM.
func Command() *cobra.Command {
	h := cell.New(Agent)
	cmd := h.Command("hivenet-agent", "hivenet node agent: eBPF networking, load balancing, policy and observability")
	cmd.Version = cell.Version
	return cmd
}
