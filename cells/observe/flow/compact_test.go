package flow

import (
	"bytes"
	"testing"
	"time"
)

func TestCompactPolicyVerdictAndUnknowns(t *testing.T) {
	ts := time.Date(2026, time.March, 5, 9, 3, 4, 7_000_000, time.UTC)
	no := false
	for _, tc := range []struct {
		name string
		f    Flow
		want string
	}{
		{"policy verdict denied", Flow{
			Time: ts, Verdict: VerdictDropped, EventType: &EventType{Type: MessageTypePolicyVerdict}, TrafficDir: "INGRESS",
			IP:     &IP{Source: "10.0.0.1", Destination: "10.0.0.2"},
			L4:     &Layer4{TCP: &TCP{SourcePort: 40000, DestinationPort: 80, Flags: &TCPFlags{SYN: true}}},
			Source: &Endpoint{Identity: 4605, Namespace: "default", PodName: "xwing"}, Destination: &Endpoint{Identity: 9000, Namespace: "default", PodName: "deathstar"},
			Summary: "TCP Flags: SYN",
		}, "Mar  5 09:03:04.007: default/xwing:40000 (ID:4605) <> default/deathstar:80 (ID:9000) policy-verdict:none INGRESS DENIED (TCP Flags: SYN)"},
		{"policy verdict allowed L3-L4", Flow{
			Time: ts, Verdict: VerdictForwarded, EventType: &EventType{Type: MessageTypePolicyVerdict}, TrafficDir: "EGRESS", PolicyMatch: 2, IsReply: &no,
			IP: &IP{Source: "10.0.0.1", Destination: "10.0.0.2"}, Source: &Endpoint{Identity: 300}, Destination: &Endpoint{Identity: 301},
			Summary: "UDP", L4: &Layer4{UDP: &UDP{SourcePort: 1, DestinationPort: 2}},
		}, "Mar  5 09:03:04.007: 10.0.0.1:1 (ID:300) -> 10.0.0.2:2 (ID:301) policy-verdict:L3-L4 EGRESS ALLOWED (UDP)"},
		{"no time, no identities, no event type", Flow{
			IP: &IP{Source: "10.0.0.1", Destination: "10.0.0.2"}, IsReply: &no, Summary: "IPv4",
		}, "N/A: 10.0.0.1 (unknown) -> 10.0.0.2 (unknown) UNKNOWN VERDICT_UNKNOWN (IPv4)"},
		{"reserved identities", Flow{
			Time: ts, Verdict: VerdictForwarded, EventType: &EventType{Type: MessageTypeTrace, SubType: 3}, IsReply: &no,
			IP: &IP{Source: "10.0.0.1", Destination: "10.96.0.1"}, Source: &Endpoint{Identity: 6}, Destination: &Endpoint{Identity: 7},
			L4: &Layer4{TCP: &TCP{SourcePort: 1000, DestinationPort: 443, Flags: &TCPFlags{ACK: true, FIN: true}}}, Summary: "TCP Flags: ACK, FIN",
		}, "Mar  5 09:03:04.007: 10.0.0.1:1000 (remote-node) -> 10.96.0.1:443 (kube-apiserver) to-stack FORWARDED (TCP Flags: ACK, FIN)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Compact(&tc.f); got != tc.want {
				t.Errorf("got\n  %s\nwant\n  %s", got, tc.want)
			}
		})
	}
}

func TestTCPFlagsOrder(t *testing.T) {
	f := &TCPFlags{FIN: true, SYN: true, RST: true, PSH: true, ACK: true, URG: true}
	if got, want := f.String(), "SYN, ACK, RST, FIN, PSH, URG"; got != want {
		t.Fatalf("%q, want Hubble's order %q", got, want)
	}
}

func TestICMPSummary(t *testing.T) {
	for _, tc := range []struct {
		typ, code uint8
		want      string
	}{
		{8, 0, "ICMPv4 EchoRequest"}, {0, 0, "ICMPv4 EchoReply"},
		{3, 3, "ICMPv4 DestinationUnreachable(Port)"}, {11, 0, "ICMPv4 TimeExceeded(TTLExceeded)"},
		{42, 1, "ICMPv4 42(1)"},
	} {
		if got := ICMPv4Summary(tc.typ, tc.code); got != tc.want {
			t.Errorf("ICMPv4Summary(%d, %d) = %q, want %q", tc.typ, tc.code, got, tc.want)
		}
	}
}

func TestStatusPrint(t *testing.T) {
	var b bytes.Buffer
	s := Status{NumFlows: 5612, MaxFlows: 12285, SeenFlows: 1234567, FlowsPerSecond: 26.375, Lost: 3, Uptime: 90 * time.Second, Source: "datapath flow ring buffer"}
	s.Print(&b)
	want := "Current/Max Flows: 5,612/12,285 (45.68%)\nFlows/s: 26.38\nSeen flows: 1,234,567\nLost events: 3\nUptime: 1m30s\nSource: datapath flow ring buffer\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	for n, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 4095: "4,095", 1048575: "1,048,575"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
