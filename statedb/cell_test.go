package statedb

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
)

func TestCell(t *testing.T) {
	var (
		db       *DB
		handlers []api.Handler
	)
	type handlersIn struct {
		cell.In
		Handlers   []api.Handler          `group:"api-handlers"`
		Collectors []prometheus.Collector `group:"prometheus-collectors"`
	}
	var collectors []prometheus.Collector
	h := cell.New(
		Cell,
		cell.Invoke(func(d *DB, in handlersIn) { db, handlers, collectors = d, in.Handlers, in.Collectors }),
	)
	h.SetLogger(slog.New(slog.DiscardHandler))
	if err := h.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer h.Stop(context.Background())

	table := MustNewTable("test", idIndex)
	if err := db.RegisterTable(table); err != nil {
		t.Fatal(err)
	}
	if len(collectors) != 1 || collectors[0] != prometheus.Collector(db.Metrics()) {
		t.Fatalf("collectors = %v, want the DB's", collectors)
	}
	if len(handlers) != 2 {
		t.Fatalf("got %d API handlers, want 2", len(handlers))
	}
	mux := http.NewServeMux()
	for _, hd := range handlers {
		mux.Handle(hd.Pattern, hd.Handler)
	}
	if code, body := get(t, mux, "/v1/db/test"); code != http.StatusOK || body != "[\n\n]\n" {
		t.Fatalf("GET /v1/db/test = %d %q", code, body)
	}

	// The collector job frees tombstones once the only iterator closes.
	wtxn := db.WriteTxn(table)
	it, _ := table.Changes(wtxn)
	table.Insert(wtxn, &testObject{ID: 1})
	wtxn.Commit()
	wtxn = db.WriteTxn(table)
	table.Delete(wtxn, &testObject{ID: 1})
	wtxn.Commit()
	it.Close()
	waitFor(t, "graveyard collected", func() bool { return table.base().numDeleted(db.ReadTxn()) == 0 })
}
