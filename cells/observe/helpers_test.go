package observe

import (
	"net/netip"
	"time"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/endpoints"
)

// Pods of the unit tests: a client and a server in default, a db in prod.
var (
	clientEP = &endpoints.Endpoint{ID: 101, Namespace: "default", Pod: "client-cb9d7", Identity: 4605,
		Labels: map[string]string{"app": "client"}, IPv4: netip.MustParseAddr("10.0.0.11")}
	serverEP = &endpoints.Endpoint{ID: 102, Namespace: "default", Pod: "server-745fb", Identity: 22656,
		Labels: map[string]string{"app": "server", "tier": "web"}, IPv4: netip.MustParseAddr("10.0.0.12")}
	dbEP = &endpoints.Endpoint{ID: 103, Namespace: "prod", Pod: "db-0", Identity: 30001,
		Labels: map[string]string{"app": "db"}, IPv4: netip.MustParseAddr("10.0.0.13")}
)

var testTime = time.Date(2026, time.November, 22, 10, 45, 47, 483_000_000, time.UTC)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// tcpFlow is a forwarded TCP packet from src to dst seen at point.
func tcpFlow(src, dst string, flags bpf.TCPFlags, point bpf.ObservationPoint, ct bpf.CTStatus) bpf.Flow {
	dir := bpf.DirectionEgress
	if point == bpf.ObsToEndpoint {
		dir = bpf.DirectionIngress
	}
	return bpf.Flow{
		Time: testTime, Src: ap(src), Dst: ap(dst), Proto: bpf.ProtoTCP, TCP: flags,
		Verdict: bpf.VerdictForwarded, Point: point, Direction: dir, CTStatus: ct, Reason: bpf.ReasonNew,
	}
}

// record enriches f against the test pods, as the observer does.
func record(f bpf.Flow) Record {
	r := Record{Flow: f}
	for _, ep := range []*endpoints.Endpoint{clientEP, serverEP, dbEP} {
		if ep.IPv4 == f.Src.Addr() {
			r.SrcEP = ep
		}
		if ep.IPv4 == f.Dst.Addr() {
			r.DstEP = ep
		}
	}
	r.SrcIdentity = resolveIdentity(f.SrcIdentity, r.SrcEP)
	r.DstIdentity = resolveIdentity(f.DstIdentity, r.DstEP)
	return r
}

var (
	synFlow    = tcpFlow("10.0.0.11:51944", "10.0.0.12:80", bpf.TCPSyn, bpf.ObsToEndpoint, bpf.CTNew)
	synAckFlow = tcpFlow("10.0.0.12:80", "10.0.0.11:51944", bpf.TCPSyn|bpf.TCPAck, bpf.ObsFromEndpoint, bpf.CTReply)
	dropFlow   = bpf.Flow{
		Time: testTime, Src: ap("10.0.0.11:40000"), Dst: ap("10.0.0.13:5432"), Proto: bpf.ProtoTCP, TCP: bpf.TCPSyn,
		Verdict: bpf.VerdictDropped, DropReason: bpf.DropPolicy, Point: bpf.ObsToEndpoint, Direction: bpf.DirectionIngress,
		Reason: bpf.ReasonDrop,
	}
	udpWorldFlow = bpf.Flow{
		Time: testTime, Src: ap("10.0.0.12:53000"), Dst: ap("8.8.8.8:53"), Proto: bpf.ProtoUDP,
		Verdict: bpf.VerdictForwarded, Point: bpf.ObsFromEndpoint, Direction: bpf.DirectionEgress, CTStatus: bpf.CTNew,
	}
	pingFlow = bpf.Flow{
		Time: testTime, Src: ap("10.0.0.13:7"), Dst: ap("10.0.0.11:0"), Proto: bpf.ProtoICMP,
		Verdict: bpf.VerdictForwarded, Point: bpf.ObsFromEndpoint, Direction: bpf.DirectionEgress,
		ICMP: struct{ Type, Code uint8 }{8, 0},
	}
	hostFlow = bpf.Flow{
		Time: testTime, Src: ap("192.168.1.1:41000"), Dst: ap("10.0.0.12:80"), Proto: bpf.ProtoTCP, TCP: bpf.TCPSyn,
		SrcIdentity: 1, Verdict: bpf.VerdictForwarded, Point: bpf.ObsToEndpoint, Direction: bpf.DirectionIngress,
	}
)
