package bpfmap

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hivenet/hivenet/cells/cell"
)

// Cell contributes the package's metrics to the
// `group:"prometheus-collectors"` value group for the process's metrics
// endpoint. Maps themselves are created by the modules that own them.
var Cell = cell.Module("bpfmap", "Typed, pinned BPF maps",
	cell.Provide(func() collectorOut { return collectorOut{Collector: layoutChanges} }),
)

type collectorOut struct {
	cell.Out
	Collector prometheus.Collector `group:"prometheus-collectors"`
}
