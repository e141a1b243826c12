package flow

import (
	"encoding/json"
	"testing"
	"time"
)

func TestAppendJSONMatchesMarshal(t *testing.T) {
	yes, no := true, false
	ts := time.Date(2026, time.November, 22, 10, 45, 47, 483_123_456, time.UTC)
	for _, f := range []*Flow{
		{},
		{Time: ts, Verdict: VerdictForwarded, Type: "L3_L4", Summary: "TCP Flags: SYN",
			IP:          &IP{Source: "10.0.0.1", Destination: "10.0.0.2", IPVersion: "IPv4"},
			L4:          &Layer4{TCP: &TCP{SourcePort: 51944, DestinationPort: 80, Flags: &TCPFlags{SYN: true, ACK: true, FIN: true, RST: true, PSH: true, URG: true}}},
			Source:      &Endpoint{ID: 1, Identity: 4605, Namespace: "default", PodName: "client", Labels: []string{"k8s:app=client", "k8s:io.kubernetes.pod.namespace=default"}},
			Destination: &Endpoint{Identity: 2, Labels: []string{"reserved:world"}},
			NodeName:    "node-1", EventType: &EventType{Type: 4}, TrafficDir: "EGRESS", TracePoint: "TO_ENDPOINT", IsReply: &no},
		{Time: ts.In(time.FixedZone("x", 3600)), Verdict: VerdictDropped, DropReason: 133, DropReasonDesc: "POLICY_DENIED",
			EventType: &EventType{Type: 1, SubType: 133}, L4: &Layer4{TCP: &TCP{Flags: &TCPFlags{}}}, Source: &Endpoint{}},
		{L4: &Layer4{UDP: &UDP{SourcePort: 1}}, IsReply: &yes, PolicyMatch: 2},
		{L4: &Layer4{ICMPv4: &ICMPv4{Type: 8}}, Summary: "ICMPv4 EchoRequest"},
		{L4: &Layer4{}, Source: &Endpoint{Namespace: "we<ird>&\"ns\\", PodName: "p\x01\n\t\r\b\f\u2028\u2029é\xff"}},
	} {
		for _, node := range []string{"", "node-1"} {
			r := &Response{Flow: f, NodeName: node, Time: f.Time}
			want, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.AppendJSON(nil); string(got) != string(want) {
				t.Errorf("AppendJSON\n  %s\nencoding/json\n  %s", got, want)
			}
		}
	}
	if got, want := string((&Response{}).AppendJSON(nil)), `{"flow":null,"time":"0001-01-01T00:00:00Z"}`; got != want {
		t.Errorf("empty response %s, want %s", got, want)
	}
}
