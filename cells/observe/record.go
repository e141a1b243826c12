package observe

import (
	"sort"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/observe/flow"
)

// Record is a flow as the ring keeps it: the datapath's event with the
// endpoints its addresses belonged to when it arrived, and the identities
// resolved from them.
type Record struct {
	bpf.Flow
	// SrcEP and DstEP are the local endpoints of the flow's addresses; nil
	// for an address that is no endpoint of this node. They are the
	// table's immutable objects, shared, not copies.
	SrcEP, DstEP *endpoints.Endpoint
}

// resolveIdentity picks a side's identity: the endpoints table's when it has
// assigned one, else the datapath's, else for an address that is no local
// endpoint reserved:world, which is what Cilium's ipcache answers for an
// address it knows nothing about.
func resolveIdentity(dp uint32, ep *endpoints.Endpoint) uint32 {
	switch {
	case ep != nil && ep.Identity != 0:
		return ep.Identity
	case dp != 0:
		return dp
	case ep == nil:
		return flow.IdentityWorld
	}
	return flow.IdentityUnknown
}

// IsReply says whether the packet went from the connection's responder to
// its initiator; unknown (nil) for drops, as Hubble has it.
func (r *Record) IsReply() *bool {
	if r.Verdict == bpf.VerdictDropped {
		return nil
	}
	reply := r.CTStatus == bpf.CTReply
	return &reply
}

// ToFlow returns r as Hubble's flow JSON.
func (r *Record) ToFlow(node string) *flow.Flow { return r.toFlow(node, endpointOf) }

func (r *Record) toFlow(node string, endpointOf func(*endpoints.Endpoint, uint32) *flow.Endpoint) *flow.Flow {
	f := &flow.Flow{
		Time:        r.Time,
		Verdict:     r.Verdict.String(),
		IP:          &flow.IP{Source: r.Src.Addr().String(), Destination: r.Dst.Addr().String(), IPVersion: "IPv4"},
		Source:      endpointOf(r.SrcEP, r.SrcIdentity),
		Destination: endpointOf(r.DstEP, r.DstIdentity),
		Type:        "L3_L4",
		NodeName:    node,
		IsReply:     r.IsReply(),
	}
	switch r.Direction {
	case bpf.DirectionIngress:
		f.TrafficDir = "INGRESS"
	case bpf.DirectionEgress:
		f.TrafficDir = "EGRESS"
	default:
		f.TrafficDir = "TRAFFIC_DIRECTION_UNKNOWN"
	}
	if r.Verdict == bpf.VerdictDropped {
		f.DropReason = uint32(r.DropReason)
		f.DropReasonDesc = flow.DropReasonDesc(r.DropReason)
		f.EventType = &flow.EventType{Type: flow.MessageTypeDrop, SubType: int32(r.DropReason)}
	} else {
		sub, enum, _ := flow.TracePoint(r.Point)
		f.TracePoint = enum
		f.EventType = &flow.EventType{Type: flow.MessageTypeTrace, SubType: sub}
	}
	switch r.Proto {
	case bpf.ProtoTCP:
		fl := &flow.TCPFlags{
			FIN: r.TCP&bpf.TCPFin != 0, SYN: r.TCP&bpf.TCPSyn != 0, RST: r.TCP&bpf.TCPRst != 0,
			PSH: r.TCP&bpf.TCPPsh != 0, ACK: r.TCP&bpf.TCPAck != 0, URG: r.TCP&bpf.TCPUrg != 0,
		}
		f.L4 = &flow.Layer4{TCP: &flow.TCP{SourcePort: uint32(r.Src.Port()), DestinationPort: uint32(r.Dst.Port()), Flags: fl}}
		f.Summary = "TCP Flags: " + fl.String()
	case bpf.ProtoUDP:
		f.L4 = &flow.Layer4{UDP: &flow.UDP{SourcePort: uint32(r.Src.Port()), DestinationPort: uint32(r.Dst.Port())}}
		f.Summary = "UDP"
	case bpf.ProtoICMP:
		f.L4 = &flow.Layer4{ICMPv4: &flow.ICMPv4{Type: uint32(r.ICMP.Type), Code: uint32(r.ICMP.Code)}}
		f.Summary = flow.ICMPv4Summary(r.ICMP.Type, r.ICMP.Code)
	default:
		f.Summary = "IPv4"
	}
	return f
}

// podNamespaceLabel is the label Cilium gives every pod for its namespace.
const podNamespaceLabel = "io.kubernetes.pod.namespace"

func endpointOf(ep *endpoints.Endpoint, identity uint32) *flow.Endpoint {
	out := &flow.Endpoint{Identity: identity}
	if ep == nil {
		if name, ok := flow.ReservedIdentityName(identity); ok && identity != flow.IdentityUnknown {
			out.Labels = []string{"reserved:" + name}
		}
		return out
	}
	out.ID = uint32(ep.ID)
	out.Namespace = ep.Namespace
	out.PodName = ep.Pod
	out.Labels = make([]string, 0, len(ep.Labels)+1)
	for k, v := range ep.Labels {
		out.Labels = append(out.Labels, "k8s:"+k+"="+v)
	}
	if ep.Namespace != "" {
		out.Labels = append(out.Labels, "k8s:"+podNamespaceLabel+"="+ep.Namespace)
	}
	sort.Strings(out.Labels)
	return out
}
