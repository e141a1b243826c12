package flow

import "time"

// Response is one line of GET /v1/flows, Hubble's GetFlowsResponse.
type Response struct {
	Flow     *Flow     `json:"flow"`
	NodeName string    `json:"node_name,omitempty"`
	Time     time.Time `json:"time"`
}

// Flow is Hubble's flow.Flow, limited to the fields hivenet's datapath fills.
type Flow struct {
	Time    time.Time `json:"time"`
	Verdict string    `json:"verdict"`
	// DropReason is the numeric drop reason (Hubble keeps it for
	// compatibility next to DropReasonDesc).
	DropReason     uint32     `json:"drop_reason,omitempty"`
	IP             *IP        `json:"IP,omitempty"`
	L4             *Layer4    `json:"l4,omitempty"`
	Source         *Endpoint  `json:"source,omitempty"`
	Destination    *Endpoint  `json:"destination,omitempty"`
	Type           string     `json:"Type"`
	NodeName       string     `json:"node_name,omitempty"`
	EventType      *EventType `json:"event_type,omitempty"`
	TrafficDir     string     `json:"traffic_direction,omitempty"`
	PolicyMatch    uint32     `json:"policy_match_type,omitempty"`
	TracePoint     string     `json:"trace_observation_point,omitempty"`
	DropReasonDesc string     `json:"drop_reason_desc,omitempty"`
	// IsReply is unset when the direction is not known (drops), as in
	// Hubble, where it is a BoolValue wrapper.
	IsReply *bool  `json:"is_reply,omitempty"`
	Summary string `json:"Summary"`
}

// Endpoint is one side of a flow.
type Endpoint struct {
	ID        uint32   `json:"ID,omitempty"`
	Identity  uint32   `json:"identity,omitempty"`
	Namespace string   `json:"namespace,omitempty"`
	Labels    []string `json:"labels,omitempty"`
	PodName   string   `json:"pod_name,omitempty"`
}

// IP is the flow's layer 3.
type IP struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	IPVersion   string `json:"ipVersion"`
}

// Layer4 holds exactly one of its protocols.
type Layer4 struct {
	TCP    *TCP    `json:"TCP,omitempty"`
	UDP    *UDP    `json:"UDP,omitempty"`
	ICMPv4 *ICMPv4 `json:"ICMPv4,omitempty"`
}

// TCP is a TCP segment's ports and flags.
type TCP struct {
	SourcePort      uint32    `json:"source_port,omitempty"`
	DestinationPort uint32    `json:"destination_port,omitempty"`
	Flags           *TCPFlags `json:"flags,omitempty"`
}

// TCPFlags are the flags set on a segment.
type TCPFlags struct {
	FIN bool `json:"FIN,omitempty"`
	SYN bool `json:"SYN,omitempty"`
	RST bool `json:"RST,omitempty"`
	PSH bool `json:"PSH,omitempty"`
	ACK bool `json:"ACK,omitempty"`
	URG bool `json:"URG,omitempty"`
}

// UDP is a datagram's ports.
type UDP struct {
	SourcePort      uint32 `json:"source_port,omitempty"`
	DestinationPort uint32 `json:"destination_port,omitempty"`
}

// ICMPv4 is an ICMP message's type and code.
type ICMPv4 struct {
	Type uint32 `json:"type,omitempty"`
	Code uint32 `json:"code,omitempty"`
}

// EventType is the Cilium monitor message the flow came from: Type is the
// message type (MessageType*), SubType the observation point of a trace or
// the reason of a drop.
type EventType struct {
	Type    int32 `json:"type"`
	SubType int32 `json:"sub_type,omitempty"`
}

// Cilium monitor message types, as Hubble's event_type.type.
const (
	MessageTypeDrop          int32 = 1
	MessageTypeTrace         int32 = 4
	MessageTypePolicyVerdict int32 = 5
)

// Hubble's verdict names.
const (
	VerdictUnknown   = "VERDICT_UNKNOWN"
	VerdictForwarded = "FORWARDED"
	VerdictDropped   = "DROPPED"
	VerdictError     = "ERROR"
	VerdictAudit     = "AUDIT"
	VerdictRedirect  = "REDIRECTED"
	VerdictTraced    = "TRACED"
	VerdictXlated    = "TRANSLATED"
)

// Verdicts lists every verdict name a filter accepts.
var Verdicts = []string{VerdictForwarded, VerdictDropped, VerdictError, VerdictAudit, VerdictRedirect, VerdictTraced, VerdictXlated}
