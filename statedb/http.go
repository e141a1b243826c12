package statedb

import (
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
)

// TableWritable is implemented by objects that render as a row of a text
// table, for `hivenet db show` and the HTTP handler's format=table.
// TableHeader must not depend on the receiver's contents: it is also called
// on the zero value to head an empty table.
type TableWritable interface {
	TableHeader() []string
	TableRow() []string
}

// TableInfo is one table in the GET /v1/db listing.
type TableInfo struct {
	Name        string   `json:"name"`
	Objects     int      `json:"objects"`
	Revision    Revision `json:"revision"`
	Initialized bool     `json:"initialized"`
	Pending     []string `json:"pendingInitializers,omitempty"`
	Graveyard   int      `json:"graveyard"`
	Indexes     []string `json:"indexes"`
}

// NewHTTPHandler returns a read-only HTTP view of the database:
//
//	GET /v1/db                               the tables as []TableInfo (JSON)
//	GET /v1/db/{table}?format=json|table     a table's objects, in primary key order
//	    &key=K[&index=I]                     only the objects whose key in index I
//	                                         (default: the primary index) is K
//
// format=json (the default) is a JSON array of the objects as stored;
// format=table is text columns from [TableWritable], or one JSON object
// per line for types that do not implement it. Errors are JSON
// {"error": "..."} with a 4xx status. The handler also works mounted
// under http.StripPrefix("/v1/db", ...).
func NewHTTPHandler(db *DB) http.Handler {
	return &httpHandler{db: db}
}

type httpHandler struct{ db *DB }

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeHTTPError(w, http.StatusMethodNotAllowed, "only GET is supported")
		return
	}
	p := strings.Trim(strings.TrimPrefix(r.URL.Path, "/v1/db"), "/")
	txn := h.db.ReadTxn()
	if p == "" {
		h.list(w, txn)
		return
	}
	h.show(w, r, txn, p)
}

func (h *httpHandler) list(w http.ResponseWriter, txn ReadTxn) {
	infos := []TableInfo{}
	for _, t := range h.db.Tables(txn) {
		ok, _ := t.Initialized(txn)
		infos = append(infos, TableInfo{
			Name:        t.Name(),
			Objects:     t.NumObjects(txn),
			Revision:    t.Revision(txn),
			Initialized: ok,
			Pending:     t.PendingInitializers(txn),
			Graveyard:   t.base().numDeleted(txn),
			Indexes:     t.Indexes(),
		})
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(infos)
}

func (h *httpHandler) show(w http.ResponseWriter, r *http.Request, txn ReadTxn, name string) {
	t := h.db.Table(txn, name)
	if t == nil {
		var names []string
		for _, t := range h.db.Tables(txn) {
			names = append(names, t.Name())
		}
		slices.Sort(names)
		writeHTTPError(w, http.StatusNotFound,
			fmt.Sprintf("no table %q; tables are: %s", name, strings.Join(names, ", ")))
		return
	}
	objs := t.base().anyObjects(txn)
	q := r.URL.Query()
	if q.Has("key") || q.Has("index") {
		var err error
		if objs, err = t.base().anyQuery(txn, q.Get("index"), q.Get("key")); err != nil {
			writeHTTPError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	switch format := q.Get("format"); format {
	case "", "json":
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[\n"))
		first := true
		for obj := range objs {
			b, err := json.MarshalIndent(obj, "  ", "  ")
			if err != nil {
				b, _ = json.Marshal(fmt.Sprintf("unencodable %T: %v", obj, err))
			}
			if !first {
				w.Write([]byte(",\n"))
			}
			first = false
			w.Write([]byte("  "))
			w.Write(b)
		}
		w.Write([]byte("\n]\n"))
	case "table":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		writeTable(w, t.base(), objs)
	default:
		writeHTTPError(w, http.StatusBadRequest, fmt.Sprintf("unknown format %q; use json or table", format))
	}
}

func writeTable(w http.ResponseWriter, b *tableBase, objs iter.Seq2[any, Revision]) {
	tw := tabwriter.NewWriter(w, 2, 8, 3, ' ', 0)
	defer tw.Flush()
	header := b.header
	for obj := range objs {
		tr, ok := obj.(TableWritable)
		if !ok {
			j, _ := json.Marshal(obj)
			fmt.Fprintf(tw, "%s\n", j)
			continue
		}
		if header != nil {
			fmt.Fprintln(tw, strings.Join(header(), "\t"))
			header = nil
		}
		fmt.Fprintln(tw, strings.Join(tr.TableRow(), "\t"))
	}
	// An empty table still shows its columns.
	if header != nil {
		if cols := header(); cols != nil {
			fmt.Fprintln(tw, strings.Join(cols, "\t"))
		}
	}
}

func writeHTTPError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}
