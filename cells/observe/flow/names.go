package flow

import (
	"fmt"

	"github.com/hivenet/hivenet/bpf"
)

// reservedIdentities are Cilium's reserved security identities by number,
// named as `hubble observe` prints them: "(world)" rather than "(ID:2)".
var reservedIdentities = map[uint32]string{
	0:  "unknown",
	1:  "host",
	2:  "world",
	3:  "unmanaged",
	4:  "health",
	5:  "init",
	6:  "remote-node",
	7:  "kube-apiserver",
	8:  "ingress",
	9:  "world-ipv4",
	10: "world-ipv6",
}

// Reserved identities the agent itself assigns.
const (
	IdentityUnknown uint32 = 0
	IdentityHost    uint32 = 1
	IdentityWorld   uint32 = 2
)

// ReservedIdentityName returns the name of a reserved identity and whether
// id is one.
func ReservedIdentityName(id uint32) (string, bool) {
	n, ok := reservedIdentities[id]
	return n, ok
}

// tracePoint is one of Cilium's trace observation points under its three
// names: the monitor sub-type, Hubble's enum and the compact text.
type tracePoint struct {
	subType int32
	enum    string
	text    string
}

// tracePoints is indexed by Hubble's TraceObservationPoint number, which is
// what bpf.ObservationPoint holds.
var tracePoints = map[bpf.ObservationPoint]tracePoint{
	101: {0, "TO_ENDPOINT", "to-endpoint"},
	1:   {1, "TO_PROXY", "to-proxy"},
	2:   {2, "TO_HOST", "to-host"},
	3:   {3, "TO_STACK", "to-stack"},
	4:   {4, "TO_OVERLAY", "to-overlay"},
	5:   {5, "FROM_ENDPOINT", "from-endpoint"},
	6:   {6, "FROM_PROXY", "from-proxy"},
	7:   {7, "FROM_HOST", "from-host"},
	8:   {8, "FROM_STACK", "from-stack"},
	9:   {9, "FROM_OVERLAY", "from-overlay"},
	10:  {10, "FROM_NETWORK", "from-network"},
	11:  {11, "TO_NETWORK", "to-network"},
}

// TracePoint returns, for a datapath observation point, the monitor
// sub-type, Hubble's enum name and the compact text ("to-endpoint").
func TracePoint(p bpf.ObservationPoint) (subType int32, enum, text string) {
	if tp, ok := tracePoints[p]; ok {
		return tp.subType, tp.enum, tp.text
	}
	return int32(p), "UNKNOWN_POINT", fmt.Sprintf("observation-point-%d", uint8(p))
}

// traceText returns the compact text of a trace event's sub-type.
func traceText(subType int32) string {
	for _, tp := range tracePoints {
		if tp.subType == subType {
			return tp.text
		}
	}
	return "UNKNOWN"
}

// TraceTexts lists the observation point names a "trace:<point>" type
// filter accepts.
func TraceTexts() []string {
	out := make([]string, 0, len(tracePoints))
	for _, tp := range tracePoints {
		out = append(out, tp.text)
	}
	return out
}

// dropReasonEnums are Hubble's DropReason enum names of the reasons the
// datapath reports.
var dropReasonEnums = map[bpf.DropReason]string{
	bpf.DropInvalidSourceIP:   "INVALID_SOURCE_IP",
	bpf.DropPolicy:            "POLICY_DENIED",
	bpf.DropInvalid:           "INVALID_PACKET_DROPPED",
	bpf.DropCTInvalidHeader:   "CT_TRUNCATED_OR_INVALID_HEADER",
	bpf.DropWriteError:        "ERROR_WRITING_TO_PACKET",
	bpf.DropCTCreateFailed:    "CT_CANNOT_CREATE_ENTRY_FROM_PACKET",
	bpf.DropPolicyDenyByRules: "POLICY_DENY",
}

// DropReasonDesc returns Hubble's enum name of a drop reason.
func DropReasonDesc(r bpf.DropReason) string {
	if s, ok := dropReasonEnums[r]; ok {
		return s
	}
	return "DROP_REASON_UNKNOWN"
}

// policyMatchTypes are Cilium's policy match types as a policy verdict
// line prints them ("policy-verdict:L3-L4 INGRESS ALLOWED").
var policyMatchTypes = map[uint32]string{
	0: "none",
	1: "L3-Only",
	2: "L3-L4",
	3: "L4-Only",
	4: "all",
	5: "L3-Proto",
	6: "Proto-Only",
}
