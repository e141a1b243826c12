package ipam

import (
	"net/netip"
	"time"

	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

// Allocation is one address handed out.
type Allocation struct {
	IP netip.Addr `json:"ip"`
	// Owner is who holds it: the CNI attachment "containerID/ifName".
	Owner string `json:"owner"`
	// Pod is "namespace/name" when known, for people reading the table.
	Pod       string    `json:"pod,omitempty"`
	Allocated time.Time `json:"allocated"`
}

// TableHeader implements statedb's row rendering.
func (a *Allocation) TableHeader() []string { return []string{"IP", "Owner", "Pod", "Allocated"} }

// TableRow implements statedb's row rendering.
func (a *Allocation) TableRow() []string {
	return []string{a.IP.String(), a.Owner, a.Pod, a.Allocated.Format(time.RFC3339)}
}

// TableName is the allocations table's name.
const TableName = "ipam"

var (
	// ByIP is the primary index.
	ByIP = statedb.Index[*Allocation, netip.Addr]{
		Name:       "ip",
		FromObject: func(a *Allocation) index.KeySet { return index.NewKeySet(index.NetIPAddr(a.IP)) },
		FromKey:    index.NetIPAddr,
		FromString: index.NetIPAddrString,
		Unique:     true,
	}
	// ByOwner finds an attachment's address.
	ByOwner = statedb.Index[*Allocation, string]{
		Name:       "owner",
		FromObject: func(a *Allocation) index.KeySet { return index.NewKeySet(index.String(a.Owner)) },
		FromKey:    index.String,
		FromString: index.FromString,
		Unique:     true,
	}
)
