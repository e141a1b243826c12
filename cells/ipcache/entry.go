package ipcache

import (
	"net/netip"
	"strconv"

	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

// Source is where an entry comes from, in increasing precedence.
type Source uint8

const (
	SourceCIDR Source = iota
	SourceNode
	SourceRemotePod
	SourceEndpoint
)

func (s Source) String() string {
	switch s {
	case SourceNode:
		return "node"
	case SourceRemotePod:
		return "ciliumendpoint"
	case SourceEndpoint:
		return "local-endpoint"
	}
	return "cidr"
}

// MarshalText renders the source by name in JSON.
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Entry is one row of the ipcache table.
type Entry struct {
	Prefix   netip.Prefix `json:"prefix"`
	Identity uint32       `json:"identity"`
	// TunnelEndpoint is the node hosting the address when it is a pod of
	// another node (invalid otherwise).
	TunnelEndpoint netip.Addr `json:"tunnelEndpoint,omitzero"`
	EncryptKey     uint8      `json:"encryptKey,omitempty"`
	Flags          uint8      `json:"flags,omitempty"`
	Source         Source     `json:"source"`
	// Owner names the object the entry comes from (pod, node, identity).
	Owner  string             `json:"owner,omitempty"`
	Status reconcilers.Status `json:"status"`
}

// Equal reports whether two entries carry the same data (status aside).
func (e *Entry) Equal(o *Entry) bool {
	return e.Prefix == o.Prefix && e.Identity == o.Identity && e.TunnelEndpoint == o.TunnelEndpoint &&
		e.EncryptKey == o.EncryptKey && e.Flags == o.Flags && e.Source == o.Source && e.Owner == o.Owner
}

// TableHeader implements statedb's row rendering.
func (e *Entry) TableHeader() []string {
	return []string{"Prefix", "Identity", "Tunnel", "Source", "Owner", "Status"}
}

// TableRow implements statedb's row rendering.
func (e *Entry) TableRow() []string {
	tun := ""
	if e.TunnelEndpoint.IsValid() {
		tun = e.TunnelEndpoint.String()
	}
	return []string{e.Prefix.String(), strconv.FormatUint(uint64(e.Identity), 10), tun, e.Source.String(), e.Owner, e.Status.String()}
}

// TableName is the ipcache table's name.
const TableName = "ipcache"

// ByPrefix is the primary index.
var ByPrefix = statedb.Index[*Entry, netip.Prefix]{
	Name:       "prefix",
	FromObject: func(e *Entry) index.KeySet { return index.NewKeySet(index.NetIPPrefix(e.Prefix)) },
	FromKey:    index.NetIPPrefix,
	FromString: index.NetIPPrefixString,
	Unique:     true,
}

// NewTable makes the ipcache table.
func NewTable() (statedb.RWTable[*Entry], error) { return statedb.NewTable(TableName, ByPrefix) }
