package datapath

import (
	"net/http"

	"github.com/hivenet/hivenet/cells/api"
)

// CTEntry is one conntrack entry as GET /v1/bpf/ct serves it: the map, and
// the entry in the line format of `cilium-dbg bpf ct list global`.
type CTEntry struct {
	Map   string `json:"map"`
	Entry string `json:"entry"`
}

func newAPIHandlers(dp Datapath) api.HandlerOut {
	return api.HandlerOut{Handler: api.Handler{
		Pattern: "GET /v1/bpf/ct",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			recs, err := dp.Conntrack()
			if err != nil {
				api.WriteError(w, http.StatusServiceUnavailable, "conntrack: "+err.Error())
				return
			}
			out := make([]CTEntry, len(recs))
			for i, r := range recs {
				out[i] = CTEntry{Map: r.Map, Entry: r.String()}
			}
			api.WriteJSON(w, http.StatusOK, out)
		}),
	}}
}
