package identity

// ID is a security identity number.
type ID = uint32

// The reserved identities, with Cilium's numbers.
const (
	IDUnknown       ID = 0
	IDHost          ID = 1
	IDWorld         ID = 2
	IDUnmanaged     ID = 3
	IDHealth        ID = 4
	IDInit          ID = 5
	IDRemoteNode    ID = 6
	IDKubeAPIServer ID = 7
	IDIngress       ID = 8
)

const (
	// MinCluster is the first identity allocated for a label set.
	MinCluster ID = 256
	// MaxCluster is the last cluster identity (Cilium's 16-bit range for a
	// single cluster).
	MaxCluster ID = 65535
	// LocalFlag marks node-local identities (CIDRs), as Cilium's scope bit.
	LocalFlag ID = 1 << 24
)

// reservedNames are the label values of the reserved identities, as in
// Cilium ("reserved:host").
var reservedNames = map[ID]string{
	IDHost:          "host",
	IDWorld:         "world",
	IDUnmanaged:     "unmanaged",
	IDHealth:        "health",
	IDInit:          "init",
	IDRemoteNode:    "remote-node",
	IDKubeAPIServer: "kube-apiserver",
	IDIngress:       "ingress",
}

// ReservedName returns the name of a reserved identity ("host"), or "".
func ReservedName(id ID) string { return reservedNames[id] }

// IsReserved reports whether id is one of the reserved identities 1..8.
func IsReserved(id ID) bool { _, ok := reservedNames[id]; return ok }

// IsLocal reports whether id is a node-local (CIDR) identity.
func IsLocal(id ID) bool { return id&LocalFlag != 0 }

// Reserved returns the reserved identities with their labels.
func Reserved() []*Identity {
	out := make([]*Identity, 0, len(reservedNames))
	for id := IDHost; id <= IDIngress; id++ {
		out = append(out, &Identity{ID: id, Kind: KindReserved, Labels: Labels{SourceReserved + ":" + reservedNames[id]: ""}})
	}
	return out
}
