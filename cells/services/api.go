package services

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/datapath"
	"github.com/hivenet/hivenet/statedb"
)

// ServiceEntry is one frontend as GET /v1/services serves it, the rows of
// `hivenet service list`.
type ServiceEntry struct {
	ID       uint16   `json:"id"`
	Frontend string   `json:"frontend"` // 10.96.0.10:80/TCP
	Type     SVCType  `json:"type"`
	Service  string   `json:"service"`  // namespace/name
	Backends []string `json:"backends"` // "10.0.1.5:8080/TCP (active)", slot order
	Status   string   `json:"status"`
}

// Entries lists the frontends of txn as `hivenet service list` shows them,
// sorted by id.
func Entries(txn statedb.ReadTxn, fes statedb.Table[*Frontend]) []ServiceEntry {
	out := []ServiceEntry{}
	for fe := range fes.All(txn) {
		e := ServiceEntry{ID: fe.ID, Frontend: fe.Address.String(), Type: fe.Type, Service: fe.ServiceName.String(), Backends: []string{}, Status: fe.Status.Kind.String()}
		for _, b := range fe.Backends {
			e.Backends = append(e.Backends, fmt.Sprintf("%s (%s)", b.Address, b.State))
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b ServiceEntry) int { return int(a.ID) - int(b.ID) })
	return out
}

type apiOut struct {
	cell.Out
	List api.Handler `group:"api-handlers"`
	LB   api.Handler `group:"api-handlers"`
}

func newAPIHandlers(db *statedb.DB, t Tables, dp datapath.Datapath) apiOut {
	return apiOut{
		List: api.Handler{Pattern: "GET /v1/services", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			api.WriteJSON(w, http.StatusOK, Entries(db.ReadTxn(), t.Frontends))
		})},
		LB: api.Handler{Pattern: "GET /v1/bpf/lb", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			es, err := bpf.DumpLB(dp.Config().BPFRoot)
			if err != nil {
				api.WriteError(w, http.StatusServiceUnavailable, err.Error())
				return
			}
			if es == nil {
				es = []bpf.LBEntry{}
			}
			api.WriteJSON(w, http.StatusOK, es)
		})},
	}
}
