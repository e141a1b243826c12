package identity

import (
	"log/slog"
	"net/http"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/statedb"
)

// Cell is the agent's identity module: it provides the identities table
// (reserved, cluster and CIDR identities) and the pod-identities table (the
// identity of each pod on this node), allocating cluster identities as
// CiliumIdentity objects. It needs the k8s cells and statedb.
var Cell = cell.Module("identity", "Security identities of label sets, allocated as CiliumIdentity objects",
	cell.ProvidePrivate(NewTable, NewPodIdentityTable),
	cell.Provide(newIdentities, newAPIHandler),
)

type params struct {
	cell.In

	DB         *statedb.DB
	IDs        statedb.RWTable[*Identity]
	PodIDs     statedb.RWTable[*PodIdentity]
	Pods       statedb.Table[*corev1.Pod]
	Namespaces statedb.Table[*corev1.Namespace]
	CRDs       statedb.Table[*v2.CiliumIdentity]
	NPs        statedb.Table[*networkingv1.NetworkPolicy]
	CNPs       statedb.Table[*v2.CiliumNetworkPolicy]
	CCNPs      statedb.Table[*v2.CiliumClusterwideNetworkPolicy]
	Clientset  *client.Clientset
	Jobs       cell.Jobs
	Log        *slog.Logger
}

type out struct {
	cell.Out
	IDs    statedb.Table[*Identity]
	PodIDs statedb.Table[*PodIdentity]
}

func newIdentities(p params) (out, error) {
	if err := p.DB.RegisterTable(p.IDs, p.PodIDs); err != nil {
		return out{}, err
	}
	s := &syncer{
		db: p.DB, ids: p.IDs, podIDs: p.PodIDs,
		pods: p.Pods, namespaces: p.Namespaces, crds: p.CRDs, nps: p.NPs, cnps: p.CNPs, ccnps: p.CCNPs,
		alloc: NewAllocator(CRDBackend{Client: p.Clientset}), cidrs: NewCIDRAllocator(), log: p.Log,
	}
	wtxn := p.DB.WriteTxn(p.PodIDs)
	s.init = p.PodIDs.RegisterInitializer(wtxn, "pod-identities-allocated")
	wtxn.Commit()
	p.Jobs.Add(cell.OneShot("sync-identities", s.run))
	return out{IDs: p.IDs.ToTable(), PodIDs: p.PodIDs.ToTable()}, nil
}

// Entry is one identity as GET /v1/identities serves it.
type Entry struct {
	ID     ID       `json:"id"`
	Kind   Kind     `json:"kind"`
	Labels []string `json:"labels"`
}

// Entries lists the identities of txn sorted by number, labels sorted.
func Entries(txn statedb.ReadTxn, tbl statedb.Table[*Identity]) []Entry {
	out := []Entry{}
	for id := range tbl.All(txn) {
		ls := make([]string, 0, len(id.Labels))
		for k, v := range id.Labels {
			if v == "" {
				ls = append(ls, k)
			} else {
				ls = append(ls, k+"="+v)
			}
		}
		slices.Sort(ls)
		out = append(out, Entry{ID: id.ID, Kind: id.Kind, Labels: ls})
	}
	return out
}

func newAPIHandler(db *statedb.DB, tbl statedb.Table[*Identity]) api.HandlerOut {
	return api.HandlerOut{Handler: api.Handler{Pattern: "GET /v1/identities", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		api.WriteJSON(w, http.StatusOK, Entries(db.ReadTxn(), tbl))
	})}}
}
