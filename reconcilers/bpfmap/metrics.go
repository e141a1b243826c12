package bpfmap

import "github.com/prometheus/client_golang/prometheus"

var layoutChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "hivenet",
	Subsystem: "bpfmap",
	Name:      "layout_changes_total",
	Help:      "Pinned BPF maps found with a different layout and recreated, losing their contents.",
}, []string{"map"})

// Collectors returns the package's Prometheus metrics for the agent's
// registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{layoutChanges}
}
