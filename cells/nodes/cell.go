package nodes

import (
	"log/slog"

	corev1 "k8s.io/api/core/v1"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/ipam"
	"github.com/hivenet/hivenet/cells/k8s"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/statedb"
)

// Cell is the nodes module of the agent: it provides the read-only
// statedb.Table[*Node] and publishes this node's CiliumNode. It needs the
// k8s cells (ClientCell, AgentCell) and the IPAM cell.
var Cell = cell.Module("nodes", "Cluster nodes table and this node's CiliumNode",
	cell.ProvidePrivate(NewTable),
	cell.Provide(newNodes),
	cell.Invoke(func(statedb.Table[*Node]) {}),
)

type params struct {
	cell.In

	// IPAM comes first: it is constructed, and so started, before this
	// module's jobs, which need the pod CIDR it allocates from.
	IPAM        ipam.IPAM
	DB          *statedb.DB
	Table       statedb.RWTable[*Node]
	K8sNodes    statedb.Table[*corev1.Node]
	CiliumNodes statedb.Table[*v2.CiliumNode]
	Clientset   *client.Clientset
	NodeName    k8s.NodeName
	Jobs        cell.Jobs
	Log         *slog.Logger
}

func newNodes(p params) (statedb.Table[*Node], error) {
	if err := p.DB.RegisterTable(p.Table); err != nil {
		return nil, err
	}
	s := &syncer{db: p.DB, table: p.Table, k8sNodes: p.K8sNodes, ciliumNodes: p.CiliumNodes, local: string(p.NodeName)}
	wtxn := p.DB.WriteTxn(p.Table)
	s.init = p.Table.RegisterInitializer(wtxn, "k8s-nodes-and-ciliumnodes-synced")
	wtxn.Commit()
	w := &ciliumNodeWriter{
		db: p.DB, k8sNodes: p.K8sNodes, ciliumNodes: p.CiliumNodes,
		cilium: p.Clientset.Cilium, ipam: p.IPAM, name: string(p.NodeName), log: p.Log,
	}
	p.Jobs.Add(cell.OneShot("derive-nodes", s.run), cell.OneShot("write-ciliumnode", w.run))
	return p.Table.ToTable(), nil
}
