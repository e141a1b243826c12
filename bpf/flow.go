package bpf

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unsafe"
)

// ErrBadFlow is returned when a ring buffer record is not a flow event.
var ErrBadFlow = errors.New("malformed flow event")

// FlowEvent is the raw struct flow_event of lib/flow.h.
type FlowEvent = lxcFlowEvent

// FlowEventSize is the size of a flow event record.
const FlowEventSize = int(unsafe.Sizeof(FlowEvent{}))

// Verdict is what happened to a packet, numbered as Hubble's Verdict.
type Verdict uint8

const (
	VerdictUnknown   Verdict = 0
	VerdictForwarded Verdict = 1
	VerdictDropped   Verdict = 2
)

func (v Verdict) String() string {
	switch v {
	case VerdictForwarded:
		return "FORWARDED"
	case VerdictDropped:
		return "DROPPED"
	}
	return "VERDICT_UNKNOWN"
}

// ObservationPoint is where a packet was seen, numbered as Hubble's
// TraceObservationPoint.
type ObservationPoint uint8

const (
	ObsToStack      ObservationPoint = 3
	ObsFromEndpoint ObservationPoint = 5
	ObsToEndpoint   ObservationPoint = 101
)

func (o ObservationPoint) String() string {
	switch o {
	case ObsToStack:
		return "to-stack"
	case ObsFromEndpoint:
		return "from-endpoint"
	case ObsToEndpoint:
		return "to-endpoint"
	}
	return fmt.Sprintf("observation-point-%d", uint8(o))
}

// Direction is the traffic direction relative to the endpoint, numbered
// as Hubble's TrafficDirection.
type Direction uint8

const (
	DirectionUnknown Direction = 0
	DirectionIngress Direction = 1
	DirectionEgress  Direction = 2
)

func (d Direction) String() string {
	switch d {
	case DirectionIngress:
		return "ingress"
	case DirectionEgress:
		return "egress"
	}
	return "unknown"
}

// DropReason is why a packet was dropped, numbered as Cilium's drop
// reasons.
type DropReason uint8

const (
	DropInvalidSourceIP   DropReason = 132
	DropPolicy            DropReason = 133
	DropInvalid           DropReason = 134
	DropCTInvalidHeader   DropReason = 135
	DropWriteError        DropReason = 141
	DropCTCreateFailed    DropReason = 155
	DropNoService         DropReason = 158
	DropPolicyDenyByRules DropReason = 181
)

var dropReasonText = map[DropReason]string{
	DropInvalidSourceIP:   "Invalid source ip",
	DropPolicy:            "Policy denied",
	DropInvalid:           "Invalid packet",
	DropCTInvalidHeader:   "CT: Truncated or invalid header",
	DropWriteError:        "Error writing to packet",
	DropCTCreateFailed:    "CT: Can't create entry from packet",
	DropNoService:         "Service backend not found",
	DropPolicyDenyByRules: "Policy denied by denylist",
}

func (r DropReason) String() string {
	if s, ok := dropReasonText[r]; ok {
		return s
	}
	return fmt.Sprintf("Drop reason %d", uint8(r))
}

// CTStatus is the conntrack verdict on a packet.
type CTStatus uint8

const (
	CTNew CTStatus = iota
	CTEstablished
	CTReply
	CTRelated
)

func (s CTStatus) String() string {
	switch s {
	case CTNew:
		return "new"
	case CTEstablished:
		return "established"
	case CTReply:
		return "reply"
	case CTRelated:
		return "related"
	}
	return fmt.Sprintf("ct-status-%d", uint8(s))
}

// FlowReason is why the datapath reported a packet.
type FlowReason uint8

const (
	ReasonNew      FlowReason = 1  // connection start
	ReasonClose    FlowReason = 2  // FIN or RST
	ReasonFlags    FlowReason = 3  // first time a TCP flag was seen in this direction
	ReasonInterval FlowReason = 4  // periodic report
	ReasonExpired  FlowReason = 5  // an expired connection was replaced
	ReasonDrop     FlowReason = 16 // the packet was dropped
	ReasonSample   FlowReason = 17 // sampled
	ReasonAll      FlowReason = 18 // monitor-aggregation=none
)

func (r FlowReason) String() string {
	switch r {
	case ReasonNew:
		return "new"
	case ReasonClose:
		return "close"
	case ReasonFlags:
		return "flags"
	case ReasonInterval:
		return "interval"
	case ReasonExpired:
		return "expired"
	case ReasonDrop:
		return "drop"
	case ReasonSample:
		return "sample"
	case ReasonAll:
		return "all"
	}
	return fmt.Sprintf("reason-%d", uint8(r))
}

// TCPFlags are the flags of a TCP segment.
type TCPFlags uint8

const (
	TCPFin TCPFlags = 1 << iota
	TCPSyn
	TCPRst
	TCPPsh
	TCPAck
	TCPUrg
)

// String lists the flags as Hubble prints them: "SYN, ACK".
func (f TCPFlags) String() string {
	names := []struct {
		f TCPFlags
		s string
	}{{TCPSyn, "SYN"}, {TCPFin, "FIN"}, {TCPRst, "RST"}, {TCPPsh, "PSH"}, {TCPAck, "ACK"}, {TCPUrg, "URG"}}
	var out []string
	for _, n := range names {
		if f&n.f != 0 {
			out = append(out, n.s)
		}
	}
	return strings.Join(out, ", ")
}

// IP protocol numbers the datapath parses.
const (
	ProtoICMP uint8 = 1
	ProtoTCP  uint8 = 6
	ProtoUDP  uint8 = 17
)

// Flow is a decoded flow event.
type Flow struct {
	Time    time.Time     // when the program saw the packet
	Mono    time.Duration // the same, as CLOCK_MONOTONIC
	Src     netip.AddrPort
	Dst     netip.AddrPort
	Proto   uint8
	TCP     TCPFlags
	ICMP    struct{ Type, Code uint8 }
	Len     uint32 // packet length
	IfIndex uint32 // the endpoint's node-side veth

	SrcEndpoint, DstEndpoint uint16 // 0 when not a local endpoint
	SrcIdentity, DstIdentity uint32

	Verdict    Verdict
	DropReason DropReason // when Verdict is VerdictDropped
	Point      ObservationPoint
	Direction  Direction
	CTStatus   CTStatus
	Reason     FlowReason
}

// DecodeFlow decodes a flow event record. monoToWall is added to the
// event's monotonic timestamp to get wall clock time (see FlowReader).
func DecodeFlow(rec []byte, monoToWall time.Duration) (Flow, error) {
	if len(rec) < FlowEventSize {
		return Flow{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadFlow, len(rec), FlowEventSize)
	}
	// The record has the host's layout (the generated bindings build for
	// little-endian hosts only); reflection-based decoding cost more than
	// the program spent writing the event.
	var ev FlowEvent
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&ev)), FlowEventSize), rec)
	return ev.Flow(monoToWall), nil
}

// Flow converts the raw event.
func (ev *FlowEvent) Flow(monoToWall time.Duration) Flow {
	mono := time.Duration(ev.TsNs)
	f := Flow{
		Time:        time.Unix(0, 0).Add(mono + monoToWall),
		Mono:        mono,
		Src:         netip.AddrPortFrom(addrFromBE32(ev.Saddr), be16(ev.Sport)),
		Dst:         netip.AddrPortFrom(addrFromBE32(ev.Daddr), be16(ev.Dport)),
		Proto:       ev.Proto,
		TCP:         TCPFlags(ev.TcpFlags),
		Len:         ev.Len,
		IfIndex:     ev.Ifindex,
		SrcEndpoint: ev.SrcEpId,
		DstEndpoint: ev.DstEpId,
		SrcIdentity: ev.SrcIdentity,
		DstIdentity: ev.DstIdentity,
		Verdict:     Verdict(ev.Verdict),
		DropReason:  DropReason(ev.DropReason),
		Point:       ObservationPoint(ev.ObsPoint),
		Direction:   Direction(ev.Direction),
		CTStatus:    CTStatus(ev.CtStatus),
		Reason:      FlowReason(ev.Reason),
	}
	f.ICMP.Type, f.ICMP.Code = ev.IcmpType, ev.IcmpCode
	return f
}

// ProtoName returns "TCP", "UDP", "ICMPv4" or the protocol number.
func ProtoName(p uint8) string {
	switch p {
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoICMP:
		return "ICMPv4"
	}
	return fmt.Sprintf("proto-%d", p)
}

// String formats f close to a Hubble line, with endpoint ids in place of
// pod names (the observe cell knows the names):
//
//	10.0.0.1:51944 (ID:4605) -> 10.0.0.2:80 (ID:22656) to-endpoint FORWARDED (TCP Flags: SYN)
func (f Flow) String() string {
	var b strings.Builder
	src, dst := f.Src.String(), f.Dst.String()
	if f.Proto == ProtoICMP || (f.Proto != ProtoTCP && f.Proto != ProtoUDP) {
		src, dst = f.Src.Addr().String(), f.Dst.Addr().String()
	}
	fmt.Fprintf(&b, "%s (ID:%d) -> %s (ID:%d) %s %s", src, f.SrcIdentity, dst, f.DstIdentity, f.Point, f.Verdict)
	if f.Verdict == VerdictDropped {
		fmt.Fprintf(&b, " (%s)", f.DropReason)
	}
	switch f.Proto {
	case ProtoTCP:
		fmt.Fprintf(&b, " (TCP Flags: %s)", f.TCP)
	case ProtoUDP:
		b.WriteString(" (UDP)")
	case ProtoICMP:
		switch f.ICMP.Type {
		case 8:
			b.WriteString(" (ICMPv4 EchoRequest)")
		case 0:
			b.WriteString(" (ICMPv4 EchoReply)")
		default:
			fmt.Fprintf(&b, " (ICMPv4 type %d code %d)", f.ICMP.Type, f.ICMP.Code)
		}
	}
	return b.String()
}
