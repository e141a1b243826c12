package api

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hivenet/hivenet/cells/cell"
)

// CollectorOut is the result struct a constructor returns to contribute a
// Prometheus collector to GET /metrics.
type CollectorOut struct {
	cell.Out
	Collector prometheus.Collector `group:"prometheus-collectors"`
}

type collectorsIn struct {
	cell.In
	Collectors []prometheus.Collector `group:"prometheus-collectors"`
}

// metricsHandler serves every collector cells contributed, plus the Go
// runtime's and the process's, in one registry of this hive (not the global
// one, so two hives in a test process do not collide).
func metricsHandler(cs []prometheus.Collector) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	base := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	for _, c := range append(base, cs...) {
		if c == nil {
			continue
		}
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics collector %T: %w", c, err)
		}
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}
