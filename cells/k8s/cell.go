package k8s

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	"github.com/hivenet/hivenet/cells/cell"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2alpha1"
	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/cells/k8s/reflector"
	"github.com/hivenet/hivenet/statedb"
)

// ClientCell provides client.Config (flags k8s-kubeconfig-path,
// k8s-api-server, k8s-client-qps, k8s-client-burst) and the shared
// *client.Clientset. Without a kubeconfig or API server address it uses the
// in-cluster configuration, and fails the hive if there is none.
var ClientCell = cell.Module("k8s-client", "Kubernetes API client",
	cell.Config(client.DefaultConfig),
	cell.Provide(newClientset),
	cell.Invoke(routeKlog),
)

// routeKlog sends client-go's klog output (watch errors, retries) to the
// module's logger, so it is structured like every other line and filtered
// by the same level; klog's verbose levels map below Info.
func routeKlog(log *slog.Logger) {
	klog.SetSlogLogger(log)
}

func newClientset(cfg client.Config) (*client.Clientset, error) {
	rc, err := cfg.RESTConfig()
	if err != nil {
		return nil, err
	}
	return client.NewClientset(rc)
}

// NodeConfig names the node the agent runs on.
type NodeConfig struct {
	K8sNodeName string `flag:"k8s-node-name" help:"Name of this node in Kubernetes (default: $K8S_NODE_NAME, else the hostname)"`
}

// NodeName is the name of the node the agent runs on, as registered in
// Kubernetes.
type NodeName string

func newNodeName(cfg NodeConfig) (NodeName, error) {
	name := cfg.K8sNodeName
	if name == "" {
		name = os.Getenv("K8S_NODE_NAME")
	}
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return "", fmt.Errorf("k8s-node-name not set and no hostname: %w", err)
		}
		name = h
	}
	return NodeName(name), nil
}

// AgentCell reflects what a node agent needs: its own node's pods
// (spec.nodeName), and every namespace, service, endpoint slice, node,
// NetworkPolicy and cilium.io object. It provides NodeName and a read-only
// statedb.Table[T] for each, with T the API type (e.g. *corev1.Pod).
// It needs ClientCell and statedb.Cell.
var AgentCell = cell.Module("k8s-tables", "Kubernetes objects reflected into tables",
	cell.Config(NodeConfig{}),
	cell.Provide(newNodeName),
	cell.Provide(func(p tableParams, node NodeName) (statedb.Table[*corev1.Pod], error) {
		return reflect(p, PodsTableName, NewPodsTable, PodsListerWatcher(p.Clientset, string(node)))
	}),
	commonTables,
)

// OperatorCell is AgentCell for the operator: pods of every node, and no
// NodeName.
var OperatorCell = cell.Module("k8s-tables", "Kubernetes objects reflected into tables",
	cell.Provide(func(p tableParams) (statedb.Table[*corev1.Pod], error) {
		return reflect(p, PodsTableName, NewPodsTable, PodsListerWatcher(p.Clientset, ""))
	}),
	commonTables,
)

var commonTables = cell.Group(
	cell.Provide(
		func(p tableParams) (statedb.Table[*corev1.Namespace], error) {
			return reflect(p, NamespacesTableName, NewNamespacesTable, NamespacesListerWatcher(p.Clientset))
		},
		func(p tableParams) (statedb.Table[*corev1.Service], error) {
			return reflect(p, ServicesTableName, NewServicesTable, ServicesListerWatcher(p.Clientset))
		},
		func(p tableParams) (statedb.Table[*discoveryv1.EndpointSlice], error) {
			return reflect(p, EndpointSlicesTableName, NewEndpointSlicesTable, EndpointSlicesListerWatcher(p.Clientset))
		},
		func(p tableParams) (statedb.Table[*corev1.Node], error) {
			return reflect(p, NodesTableName, NewNodesTable, NodesListerWatcher(p.Clientset))
		},
		func(p tableParams) (statedb.Table[*networkingv1.NetworkPolicy], error) {
			return reflect(p, NetworkPoliciesTableName, NewNetworkPoliciesTable, NetworkPoliciesListerWatcher(p.Clientset))
		},
		func(p tableParams) (statedb.Table[*v2.CiliumNetworkPolicy], error) {
			return reflect(p, CiliumNetworkPoliciesTableName, NewCiliumNetworkPoliciesTable,
				CiliumListerWatcher(p.Clientset.Cilium.V2.CiliumNetworkPolicies))
		},
		func(p tableParams) (statedb.Table[*v2.CiliumClusterwideNetworkPolicy], error) {
			return reflect(p, CiliumClusterwidePoliciesName, NewCiliumClusterwideNetworkPoliciesTable,
				CiliumListerWatcher(p.Clientset.Cilium.V2.CiliumClusterwideNetworkPolicies))
		},
		func(p tableParams) (statedb.Table[*v2.CiliumNode], error) {
			return reflect(p, CiliumNodesTableName, NewCiliumNodesTable,
				CiliumListerWatcher(p.Clientset.Cilium.V2.CiliumNodes))
		},
		func(p tableParams) (statedb.Table[*v2.CiliumIdentity], error) {
			return reflect(p, CiliumIdentitiesTableName, NewCiliumIdentitiesTable,
				CiliumListerWatcher(p.Clientset.Cilium.V2.CiliumIdentities))
		},
		func(p tableParams) (statedb.Table[*v2.CiliumEndpoint], error) {
			return reflect(p, CiliumEndpointsTableName, NewCiliumEndpointsTable,
				CiliumListerWatcher(p.Clientset.Cilium.V2.CiliumEndpoints))
		},
		func(p tableParams) (statedb.Table[*v2.CiliumLoadBalancerIPPool], error) {
			return reflect(p, CiliumLBIPPoolsTableName, NewCiliumLoadBalancerIPPoolsTable,
				CiliumListerWatcher(p.Clientset.Cilium.V2.CiliumLoadBalancerIPPools))
		},
		func(p tableParams) (statedb.Table[*v2alpha1.CiliumL2AnnouncementPolicy], error) {
			return reflect(p, CiliumL2AnnouncementPoliciesName, NewCiliumL2AnnouncementPoliciesTable,
				CiliumListerWatcher(p.Clientset.Cilium.V2alpha1.CiliumL2AnnouncementPolicies))
		},
		func(p tableParams) (statedb.Table[*v2.CiliumEgressGatewayPolicy], error) {
			return reflect(p, CiliumEgressGatewayPoliciesName, NewCiliumEgressGatewayPoliciesTable,
				CiliumListerWatcher(p.Clientset.Cilium.V2.CiliumEgressGatewayPolicies))
		},
	),
)

type tableParams struct {
	cell.In

	DB        *statedb.DB
	Clientset *client.Clientset
	Jobs      cell.Jobs
	Log       *slog.Logger
}

// reflect makes a table, registers it with the DB and adds a job that runs
// its reflector from hive start to stop.
func reflect[T Object](p tableParams, name string, newTable func() (statedb.RWTable[T], error), lw cache.ListerWatcher) (statedb.Table[T], error) {
	tbl, err := newTable()
	if err != nil {
		return nil, err
	}
	if err := p.DB.RegisterTable(tbl); err != nil {
		return nil, fmt.Errorf("register table %s: %w", name, err)
	}
	r, err := reflector.New(p.DB, reflector.Config[T]{Name: name, Table: tbl, ListerWatcher: lw}, p.Log)
	if err != nil {
		return nil, err
	}
	p.Jobs.Add(cell.OneShot("reflector-"+name, func(ctx context.Context, h cell.Health) error {
		h.OK("watching")
		return r.Run(ctx)
	}))
	return tbl.ToTable(), nil
}
