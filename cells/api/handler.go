package api

import (
	"encoding/json"
	"net/http"

	"github.com/hivenet/hivenet/cells/cell"
)

// Handler is an endpoint a cell contributes to the API server. Pattern is an
// http.ServeMux pattern such as "GET /v1/db/{table}".
type Handler struct {
	Pattern string
	Handler http.Handler
}

// HandlerOut is the result struct a constructor returns to contribute a Handler:
//
//	func newDBHandler(db *statedb.DB) api.HandlerOut {
//		return api.HandlerOut{Handler: api.Handler{Pattern: "GET /v1/db/", Handler: ...}}
//	}
type HandlerOut struct {
	cell.Out
	Handler Handler `group:"api-handlers"`
}

type handlersIn struct {
	cell.In
	Handlers []Handler `group:"api-handlers"`
}

// WriteJSON writes v as indented JSON with the given status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Error is the body of every non-2xx response: one line a CLI can print as is.
type Error struct {
	Error string `json:"error"`
}

// WriteError writes msg as an Error with the given status code.
func WriteError(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, Error{Error: msg})
}
