package flow

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Status is the body of GET /v1/flows/status, the flow buffer as `hubble
// status` reports it.
type Status struct {
	// NumFlows is how many flows the buffer holds; MaxFlows how many it can.
	NumFlows uint64 `json:"num_flows"`
	MaxFlows uint64 `json:"max_flows"`
	// SeenFlows is how many flows the agent has received since it started.
	SeenFlows uint64 `json:"seen_flows"`
	// FlowsPerSecond is the rate over the last few seconds.
	FlowsPerSecond float64 `json:"flows_per_second"`
	// Lost is how many flow events the datapath could not hand over because
	// its ring buffer was full (or that could not be decoded) since this
	// agent started reading it; losses of earlier agents are not counted.
	Lost uint64 `json:"lost_events"`
	// Uptime is how long the agent has been collecting flows.
	Uptime time.Duration `json:"uptime_ns"`
	// Source says where flows come from, or why none do.
	Source string `json:"source"`
}

// Print writes s the way `hubble status` does:
//
//	Current/Max Flows: 5,612/12,285 (45.68%)
//	Flows/s: 26.38
func (s *Status) Print(b io.Writer) {
	pct := 0.0
	if s.MaxFlows > 0 {
		pct = 100 * float64(s.NumFlows) / float64(s.MaxFlows)
	}
	fmt.Fprintf(b, "Current/Max Flows: %s/%s (%.2f%%)\n", Thousands(s.NumFlows), Thousands(s.MaxFlows), pct)
	fmt.Fprintf(b, "Flows/s: %.2f\n", s.FlowsPerSecond)
	fmt.Fprintf(b, "Seen flows: %s\n", Thousands(s.SeenFlows))
	fmt.Fprintf(b, "Lost events: %s\n", Thousands(s.Lost))
	fmt.Fprintf(b, "Uptime: %s\n", s.Uptime.Round(time.Second))
	fmt.Fprintf(b, "Source: %s\n", s.Source)
}

// Thousands formats n with comma separators: 12285 → "12,285".
func Thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
