package policy

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Direction is ingress or egress.
type Direction uint8

const (
	Ingress Direction = 0
	Egress  Direction = 1
)

func (d Direction) String() string {
	if d == Egress {
		return "Egress"
	}
	return "Ingress"
}

// IP protocol numbers of the L4 protocols policies name.
const (
	ProtoAny  uint8 = 0
	ProtoICMP uint8 = 1
	ProtoTCP  uint8 = 6
	ProtoUDP  uint8 = 17
	ProtoSCTP uint8 = 132
)

// ProtoName renders an IP protocol number as Cilium does.
func ProtoName(p uint8) string {
	switch p {
	case ProtoAny:
		return "ANY"
	case ProtoICMP:
		return "ICMP"
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoSCTP:
		return "SCTP"
	}
	return strconv.Itoa(int(p))
}

// Bit lengths of the LPM key past its prefixlen field, as in Cilium's
// struct policy_key: identity and direction are always matched exactly,
// protocol and port may be wildcarded.
const (
	StaticPrefixBits = 32 + 8
	ProtoPrefixBits  = StaticPrefixBits + 8
	FullPrefixBits   = ProtoPrefixBits + 16
)

// MapKey is one policy map key: identity, direction, protocol and a port
// prefix (PortBits of Port's high bits; 0 means all ports). Proto 0 means
// any protocol (and then all ports).
type MapKey struct {
	Identity  uint32
	Direction Direction
	Proto     uint8
	Port      uint16
	PortBits  uint8
}

// PrefixLen is the key's LPM prefix length.
func (k MapKey) PrefixLen() uint32 {
	if k.Proto == ProtoAny {
		return StaticPrefixBits
	}
	return ProtoPrefixBits + uint32(k.PortBits)
}

// Covers reports whether every packet k2 matches is matched by k (same
// identity and direction).
func (k MapKey) Covers(k2 MapKey) bool {
	if k.Identity != k2.Identity || k.Direction != k2.Direction {
		return false
	}
	if k.Proto == ProtoAny {
		return true
	}
	if k.Proto != k2.Proto || k.PortBits > k2.PortBits {
		return false
	}
	shift := 16 - uint(k.PortBits)
	return k.PortBits == 0 || k.Port>>shift == k2.Port>>shift
}

// PortRange is the first and last port the key matches.
func (k MapKey) PortRange() (uint16, uint16) {
	if k.Proto == ProtoAny || k.PortBits == 0 {
		return 0, 65535
	}
	span := uint32(1)<<(16-uint(k.PortBits)) - 1
	return k.Port, uint16(uint32(k.Port) + span)
}

// String renders the key as "identity/direction/proto/port".
func (k MapKey) String() string {
	port := "ANY"
	if k.Proto != ProtoAny && k.PortBits > 0 {
		lo, hi := k.PortRange()
		port = strconv.Itoa(int(lo))
		if hi != lo {
			port += "-" + strconv.Itoa(int(hi))
		}
	}
	return fmt.Sprintf("%d/%s/%s/%s", k.Identity, k.Direction, ProtoName(k.Proto), port)
}

// bytes encodes the key for the table index: endpoint-independent, in key
// order.
func (k MapKey) bytes() []byte {
	b := binary.BigEndian.AppendUint32(nil, k.Identity)
	b = append(b, byte(k.Direction), k.Proto)
	b = binary.BigEndian.AppendUint16(b, k.Port)
	return append(b, k.PortBits)
}

// PortPrefixes splits lo..hi into the fewest port prefixes (port, bits)
// that cover exactly that range, as Cilium's masked ports do.
func PortPrefixes(lo, hi uint16) [][2]uint16 {
	var out [][2]uint16
	l, h := uint32(lo), uint32(hi)
	for l <= h {
		bits := uint32(16)
		// Widen while the block stays aligned and inside the range.
		for bits > 0 {
			size := uint32(1) << (16 - (bits - 1))
			if l%size != 0 || l+size-1 > h {
				break
			}
			bits--
		}
		out = append(out, [2]uint16{uint16(l), uint16(bits)})
		l += uint32(1) << (16 - bits)
	}
	return out
}
