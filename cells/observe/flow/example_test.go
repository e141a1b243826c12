package flow_test

import (
	"fmt"
	"os"
	"time"

	"github.com/hivenet/hivenet/cells/observe/flow"
)

// A line of GET /v1/flows printed as `hivenet observe` prints it.
func ExampleCompact() {
	no := false
	f := &flow.Flow{
		Time:        time.Date(2026, time.November, 22, 10, 45, 47, 483_000_000, time.UTC),
		Verdict:     flow.VerdictForwarded,
		IP:          &flow.IP{Source: "10.0.0.11", Destination: "10.0.0.12", IPVersion: "IPv4"},
		L4:          &flow.Layer4{TCP: &flow.TCP{SourcePort: 51944, DestinationPort: 80, Flags: &flow.TCPFlags{SYN: true}}},
		Source:      &flow.Endpoint{Identity: 4605, Namespace: "default", PodName: "client-xyz"},
		Destination: &flow.Endpoint{Identity: 22656, Namespace: "default", PodName: "server-abc"},
		EventType:   &flow.EventType{Type: flow.MessageTypeTrace}, // sub-type 0: to-endpoint
		IsReply:     &no,
		Summary:     "TCP Flags: SYN",
	}
	fmt.Println(flow.Compact(f))
	// Output:
	// Nov 22 10:45:47.483: default/client-xyz:51944 (ID:4605) -> default/server-abc:80 (ID:22656) to-endpoint FORWARDED (TCP Flags: SYN)
}

func ExampleStatus_Print() {
	s := flow.Status{NumFlows: 5612, MaxFlows: 12285, SeenFlows: 98765, FlowsPerSecond: 26.38, Uptime: time.Hour, Source: "datapath flow ring buffer"}
	s.Print(os.Stdout)
	// Output:
	// Current/Max Flows: 5,612/12,285 (45.68%)
	// Flows/s: 26.38
	// Seen flows: 98,765
	// Lost events: 0
	// Uptime: 1h0m0s
	// Source: datapath flow ring buffer
}
