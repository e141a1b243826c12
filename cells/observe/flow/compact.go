package flow

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hivenet/hivenet/bpf"
)

// TimeFormat is how a compact line prints a flow's time (Hubble's default).
const TimeFormat = time.StampMilli

// Compact renders a flow as one line of `hubble observe` compact output,
// without the trailing newline:
//
//	Nov 22 10:45:47.483: default/client:51944 (ID:4605) -> default/server:80 (ID:22656) to-endpoint FORWARDED (TCP Flags: SYN)
//
// Replies are printed from the connection's initiator with "<-"; flows
// whose direction is unknown (drops) with "<>". Times are UTC.
func Compact(f *Flow) string {
	src, dst := hostnames(f)
	srcID, dstID := fmtIdentity(f.Source), fmtIdentity(f.Destination)
	arrow := "->"
	switch {
	case f.IsReply == nil:
		arrow = "<>"
	case *f.IsReply:
		src, dst = dst, src
		srcID, dstID = dstID, srcID
		arrow = "<-"
	}
	return fmt.Sprintf("%s: %s %s %s %s %s %s %s (%s)",
		fmtTime(f.Time), src, srcID, arrow, dst, dstID, Type(f), verdictText(f), f.Summary)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return t.UTC().Format(TimeFormat)
}

func fmtIdentity(ep *Endpoint) string {
	var id uint32
	if ep != nil {
		id = ep.Identity
	}
	if name, ok := ReservedIdentityName(id); ok {
		return "(" + name + ")"
	}
	return "(ID:" + strconv.FormatUint(uint64(id), 10) + ")"
}

// hostnames returns "namespace/pod:port" for each side, or "ip:port" when
// the side is not a known pod; the port is left out when there is none.
func hostnames(f *Flow) (string, string) {
	if f.IP == nil {
		return "", ""
	}
	var srcPort, dstPort string
	if l4 := f.L4; l4 != nil {
		switch {
		case l4.TCP != nil:
			srcPort, dstPort = port(l4.TCP.SourcePort), port(l4.TCP.DestinationPort)
		case l4.UDP != nil:
			srcPort, dstPort = port(l4.UDP.SourcePort), port(l4.UDP.DestinationPort)
		}
	}
	return hostname(f.IP.Source, srcPort, f.Source), hostname(f.IP.Destination, dstPort, f.Destination)
}

func port(p uint32) string { return strconv.FormatUint(uint64(p), 10) }

func hostname(ip, port string, ep *Endpoint) string {
	host := ip
	if ep != nil && ep.PodName != "" {
		host = ep.PodName
		if ep.Namespace != "" {
			host = ep.Namespace + "/" + ep.PodName
		}
	}
	if port != "" && port != "0" {
		return net.JoinHostPort(host, port)
	}
	return host
}

// Type returns the flow's type as a compact line prints it: the
// observation point of a trace ("to-endpoint"), the reason of a drop
// ("Policy denied"), or "policy-verdict:<match> <DIRECTION>".
func Type(f *Flow) string {
	if f.EventType == nil {
		return "UNKNOWN"
	}
	switch f.EventType.Type {
	case MessageTypeTrace:
		return traceText(f.EventType.SubType)
	case MessageTypeDrop:
		return bpf.DropReason(f.EventType.SubType).String()
	case MessageTypePolicyVerdict:
		match, ok := policyMatchTypes[f.PolicyMatch]
		if !ok {
			match = strconv.FormatUint(uint64(f.PolicyMatch), 10)
		}
		dir := f.TrafficDir
		if dir == "" {
			dir = "TRAFFIC_DIRECTION_UNKNOWN"
		}
		return "policy-verdict:" + match + " " + dir
	}
	return "UNKNOWN"
}

// verdictText is the verdict as printed; policy verdict events say
// ALLOWED / DENIED / AUDITED instead.
func verdictText(f *Flow) string {
	v := f.Verdict
	if v == "" {
		v = VerdictUnknown
	}
	if f.EventType == nil || f.EventType.Type != MessageTypePolicyVerdict {
		return v
	}
	switch v {
	case VerdictForwarded, VerdictRedirect:
		return "ALLOWED"
	case VerdictDropped, VerdictError:
		return "DENIED"
	case VerdictAudit:
		return "AUDITED"
	}
	return v
}

// String lists the set flags in the order of Hubble's summary:
// "SYN, ACK", "ACK, FIN".
func (t *TCPFlags) String() string {
	if t == nil {
		return ""
	}
	var parts []string
	for _, f := range []struct {
		on   bool
		name string
	}{{t.SYN, "SYN"}, {t.ACK, "ACK"}, {t.RST, "RST"}, {t.FIN, "FIN"}, {t.PSH, "PSH"}, {t.URG, "URG"}} {
		if f.on {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, ", ")
}

// ICMPv4Summary is Hubble's summary of an ICMP message: "ICMPv4 EchoRequest".
func ICMPv4Summary(typ, code uint8) string {
	name, ok := icmpTypes[typ]
	if !ok {
		return fmt.Sprintf("ICMPv4 %d(%d)", typ, code)
	}
	if codes, ok := icmpCodes[typ]; ok {
		c, ok := codes[code]
		if !ok {
			c = "Code: " + strconv.Itoa(int(code))
		}
		return "ICMPv4 " + name + "(" + c + ")"
	}
	return "ICMPv4 " + name
}

var icmpTypes = map[uint8]string{
	0: "EchoReply", 3: "DestinationUnreachable", 4: "SourceQuench", 5: "Redirect",
	8: "EchoRequest", 11: "TimeExceeded", 12: "ParameterProblem",
	13: "TimestampRequest", 14: "TimestampReply",
}

var icmpCodes = map[uint8]map[uint8]string{
	3: {0: "Net", 1: "Host", 2: "Protocol", 3: "Port", 4: "FragmentationNeeded", 5: "SourceRoutingFailed",
		9: "NetAdminProhibited", 10: "HostAdminProhibited", 13: "CommAdminProhibited"},
	11: {0: "TTLExceeded", 1: "FragmentReassemblyTimeExceeded"},
}
