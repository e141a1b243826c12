package policy

import (
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/statedb"
	"github.com/hivenet/hivenet/statedb/index"
)

// Entry is one policy map entry of one endpoint, a row of the
// policy-entries table.
type Entry struct {
	Endpoint uint16             `json:"endpoint"`
	Key      MapKey             `json:"key"`
	Verdict  Verdict            `json:"verdict"`
	Status   reconcilers.Status `json:"status"`
}

// TableHeader implements statedb's row rendering.
func (e *Entry) TableHeader() []string {
	return []string{"Endpoint", "Key", "Verdict", "Policies", "Status"}
}

// TableRow implements statedb's row rendering.
func (e *Entry) TableRow() []string {
	v := "allow"
	if e.Verdict.Deny {
		v = "deny"
	}
	return []string{strconv.Itoa(int(e.Endpoint)), e.Key.String(), v, strings.Join(e.Verdict.Policies, ", "), e.Status.String()}
}

// EntriesTableName is the policy-entries table's name.
const EntriesTableName = "policy-entries"

func entryKey(ep uint16, k MapKey) index.Key {
	return append(binary.BigEndian.AppendUint16(nil, ep), k.bytes()...)
}

var (
	// EntryByKey is the primary index: endpoint id then map key, so a
	// prefix query by endpoint lists its entries.
	EntryByKey = statedb.Index[*Entry, index.Key]{
		Name:       "key",
		FromObject: func(e *Entry) index.KeySet { return index.NewKeySet(entryKey(e.Endpoint, e.Key)) },
		FromKey:    func(k index.Key) index.Key { return k },
		Unique:     true,
	}
	// EntryByEndpoint lists an endpoint's entries.
	EntryByEndpoint = statedb.Index[*Entry, uint16]{
		Name:       "endpoint",
		FromObject: func(e *Entry) index.KeySet { return index.NewKeySet(index.Uint16(e.Endpoint)) },
		FromKey:    index.Uint16,
		FromString: index.Uint16String,
	}
)

// NewEntriesTable makes the policy-entries table.
func NewEntriesTable() (statedb.RWTable[*Entry], error) {
	return statedb.NewTable(EntriesTableName, EntryByKey, EntryByEndpoint)
}

// Status is the state of one policy object, a row of the policies table.
type Status struct {
	// Name is "Kind namespace/name".
	Name string `json:"name"`
	// Valid is false when the object was rejected; Error says why. A
	// rejected update leaves the last valid version enforced.
	Valid bool   `json:"valid"`
	Error string `json:"error,omitempty"`
	Rules int    `json:"rules"`
	// Enforcing is true while the last valid version is enforced.
	Enforcing bool `json:"enforcing"`
}

// TableHeader implements statedb's row rendering.
func (s *Status) TableHeader() []string { return []string{"Policy", "Valid", "Rules", "Error"} }

// TableRow implements statedb's row rendering.
func (s *Status) TableRow() []string {
	return []string{s.Name, strconv.FormatBool(s.Valid), strconv.Itoa(s.Rules), s.Error}
}

// PoliciesTableName is the policies table's name.
const PoliciesTableName = "policies"

// PolicyByName is the policies table's primary index.
var PolicyByName = statedb.Index[*Status, string]{
	Name:       "name",
	FromObject: func(s *Status) index.KeySet { return index.NewKeySet(index.String(s.Name)) },
	FromKey:    index.String,
	FromString: index.FromString,
	Unique:     true,
}

// NewPoliciesTable makes the policies table.
func NewPoliciesTable() (statedb.RWTable[*Status], error) {
	return statedb.NewTable(PoliciesTableName, PolicyByName)
}
