package identity

import (
	"net/netip"
	"strconv"

	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

// Kind is where an identity comes from.
type Kind string

const (
	KindReserved Kind = "reserved"
	KindCluster  Kind = "cluster"
	KindCIDR     Kind = "cidr"
)

// Identity is one security identity as the identities table holds it.
type Identity struct {
	ID     ID     `json:"id"`
	Kind   Kind   `json:"kind"`
	Labels Labels `json:"labels"`
	// Prefix is the CIDR of a KindCIDR identity.
	Prefix netip.Prefix `json:"prefix,omitzero"`
}

// TableHeader implements statedb's row rendering.
func (i *Identity) TableHeader() []string { return []string{"ID", "Kind", "Labels"} }

// TableRow implements statedb's row rendering.
func (i *Identity) TableRow() []string {
	return []string{strconv.FormatUint(uint64(i.ID), 10), string(i.Kind), i.Labels.String()}
}

// PodIdentity is the identity of one pod on this node.
type PodIdentity struct {
	// Pod is "namespace/name".
	Pod    string `json:"pod"`
	ID     ID     `json:"id"`
	Labels Labels `json:"labels"`
}

// TableHeader implements statedb's row rendering.
func (p *PodIdentity) TableHeader() []string { return []string{"Pod", "Identity", "Labels"} }

// TableRow implements statedb's row rendering.
func (p *PodIdentity) TableRow() []string {
	return []string{p.Pod, strconv.FormatUint(uint64(p.ID), 10), p.Labels.String()}
}

// Table names.
const (
	TableName            = "identities"
	PodIdentityTableName = "pod-identities"
)

var (
	// ByID is the identities table's primary index.
	ByID = statedb.Index[*Identity, ID]{
		Name:       "id",
		FromObject: func(i *Identity) index.KeySet { return index.NewKeySet(index.Uint32(i.ID)) },
		FromKey:    index.Uint32,
		FromString: index.Uint32String,
		Unique:     true,
	}
	// ByLabels finds identities by their label set's Key. Several cluster
	// identities can carry the same labels while a race between agents is
	// being settled; the lowest number wins.
	ByLabels = statedb.Index[*Identity, string]{
		Name:       "labels",
		FromObject: func(i *Identity) index.KeySet { return index.NewKeySet(index.String(i.Labels.Key())) },
		FromKey:    index.String,
		FromString: index.FromString,
	}
	// PodIdentityByPod is the pod-identities table's primary index.
	PodIdentityByPod = statedb.Index[*PodIdentity, string]{
		Name:       "pod",
		FromObject: func(p *PodIdentity) index.KeySet { return index.NewKeySet(index.String(p.Pod)) },
		FromKey:    index.String,
		FromString: index.FromString,
		Unique:     true,
	}
)

// NewTable makes the identities table.
func NewTable() (statedb.RWTable[*Identity], error) {
	return statedb.NewTable(TableName, ByID, ByLabels)
}

// NewPodIdentityTable makes the pod-identities table.
func NewPodIdentityTable() (statedb.RWTable[*PodIdentity], error) {
	return statedb.NewTable(PodIdentityTableName, PodIdentityByPod)
}

// Lookup returns the identity of a label set in txn: the lowest-numbered
// identity carrying exactly these labels.
func Lookup(txn statedb.ReadTxn, tbl statedb.Table[*Identity], l Labels) (*Identity, bool) {
	var best *Identity
	for id := range tbl.List(txn, ByLabels.Query(l.Key())) {
		if best == nil || id.ID < best.ID {
			best = id
		}
	}
	return best, best != nil
}
