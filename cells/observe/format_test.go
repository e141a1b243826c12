package observe

import (
	"encoding/json"
	"testing"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/observe/flow"
)

// TestCompactGolden pins the compact lines of `hivenet observe` for the
// datapath's kinds of flows to what `hubble observe` prints for them.
func TestCompactGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    bpf.Flow
		want string
	}{
		{"syn", synFlow, "Nov 22 10:45:47.483: default/client-cb9d7:51944 (ID:4605) -> default/server-745fb:80 (ID:22656) to-endpoint FORWARDED (TCP Flags: SYN)"},
		// A reply is printed from the initiator's side with "<-".
		{"syn-ack", synAckFlow, "Nov 22 10:45:47.483: default/client-cb9d7:51944 (ID:4605) <- default/server-745fb:80 (ID:22656) from-endpoint FORWARDED (TCP Flags: SYN, ACK)"},
		// A drop's direction is unknown: "<>", and the reason is its type.
		{"drop", dropFlow, "Nov 22 10:45:47.483: default/client-cb9d7:40000 (ID:4605) <> prod/db-0:5432 (ID:30001) Policy denied DROPPED (TCP Flags: SYN)"},
		{"udp to world", udpWorldFlow, "Nov 22 10:45:47.483: default/server-745fb:53000 (ID:22656) -> 8.8.8.8:53 (world) from-endpoint FORWARDED (UDP)"},
		{"icmp", pingFlow, "Nov 22 10:45:47.483: prod/db-0 (ID:30001) -> default/client-cb9d7 (ID:4605) from-endpoint FORWARDED (ICMPv4 EchoRequest)"},
		{"host", hostFlow, "Nov 22 10:45:47.483: 192.168.1.1:41000 (host) -> default/server-745fb:80 (ID:22656) to-endpoint FORWARDED (TCP Flags: SYN)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := record(tc.f)
			if got := flow.Compact(r.ToFlow("node-1")); got != tc.want {
				t.Errorf("got\n  %s\nwant\n  %s", got, tc.want)
			}
		})
	}
}

// TestJSONGolden pins the JSON of a flow to Hubble's field names.
func TestJSONGolden(t *testing.T) {
	r := record(synFlow)
	f := r.ToFlow("node-1")
	b, err := json.Marshal(flow.Response{Flow: f, NodeName: "node-1", Time: f.Time})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"flow":{"time":"2026-11-22T10:45:47.483Z","verdict":"FORWARDED",` +
		`"IP":{"source":"10.0.0.11","destination":"10.0.0.12","ipVersion":"IPv4"},` +
		`"l4":{"TCP":{"source_port":51944,"destination_port":80,"flags":{"SYN":true}}},` +
		`"source":{"ID":101,"identity":4605,"namespace":"default","labels":["k8s:app=client","k8s:io.kubernetes.pod.namespace=default"],"pod_name":"client-cb9d7"},` +
		`"destination":{"ID":102,"identity":22656,"namespace":"default","labels":["k8s:app=server","k8s:io.kubernetes.pod.namespace=default","k8s:tier=web"],"pod_name":"server-745fb"},` +
		`"Type":"L3_L4","node_name":"node-1","event_type":{"type":4},"traffic_direction":"INGRESS",` +
		`"trace_observation_point":"TO_ENDPOINT","is_reply":false,"Summary":"TCP Flags: SYN"},` +
		`"node_name":"node-1","time":"2026-11-22T10:45:47.483Z"}`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
	var back flow.Response
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if flow.Compact(back.Flow) != flow.Compact(f) {
		t.Errorf("compact line changes through JSON: %q vs %q", flow.Compact(back.Flow), flow.Compact(f))
	}
}
