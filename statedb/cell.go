package statedb

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
)

// Cell provides the process's *DB, runs its graveyard collector as a job
// and serves it read-only on the agent API at /v1/db (see [NewHTTPHandler]).
// Feature cells register their tables with the DB from their constructors.
// The DB's Prometheus collectors ([Metrics]) go into the
// `group:"prometheus-collectors"` value group for the process's metrics
// endpoint to register.
var Cell = cell.Module("statedb", "Transactional in-memory database of tables",
	cell.Provide(newHiveDB, newAPIHandlers, newCollectorOut),
)

type collectorOut struct {
	cell.Out
	Collector prometheus.Collector `group:"prometheus-collectors"`
}

func newCollectorOut(db *DB) collectorOut { return collectorOut{Collector: db.Metrics()} }

func newHiveDB(jobs cell.Jobs) *DB {
	db := New()
	jobs.Add(cell.OneShot("graveyard-gc", func(ctx context.Context, h cell.Health) error {
		h.OK("collecting tombstones of deletes every change iterator has seen")
		return db.runGC(ctx)
	}))
	return db
}

type apiHandlersOut struct {
	cell.Out
	List api.Handler `group:"api-handlers"`
	Show api.Handler `group:"api-handlers"`
}

func newAPIHandlers(db *DB) apiHandlersOut {
	h := NewHTTPHandler(db)
	return apiHandlersOut{
		List: api.Handler{Pattern: "GET /v1/db", Handler: h},
		Show: api.Handler{Pattern: "GET /v1/db/{table}", Handler: h},
	}
}
