package ipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/statedir"
	"github.com/hivenet/hivenet/statedb"
)

// ErrPoolExhausted is returned when every address of the range is taken.
var ErrPoolExhausted = errors.New("IPv4 pool exhausted")

// ErrNotStarted is returned by calls made before the cell has restored its
// allocations.
var ErrNotStarted = errors.New("IPAM not started yet")

// Config is the IPAM cell's configuration.
type Config struct {
	// IPv4Range is this node's pod CIDR.
	IPv4Range string `flag:"ipv4-range" help:"IPv4 CIDR this node allocates pod addresses from"`
}

// Validate implements cell.Validator.
func (c Config) Validate() error {
	p, err := netip.ParsePrefix(c.IPv4Range)
	if err != nil {
		return fmt.Errorf("--ipv4-range %q: %w", c.IPv4Range, err)
	}
	if !p.Addr().Is4() {
		return fmt.Errorf("--ipv4-range %q: not an IPv4 CIDR", c.IPv4Range)
	}
	if p.Bits() > 30 {
		return fmt.Errorf("--ipv4-range %q: /%d leaves no room for pods; use /30 or larger", c.IPv4Range, p.Bits())
	}
	if p.Masked() != p {
		return fmt.Errorf("--ipv4-range %q: host bits set; did you mean %s?", c.IPv4Range, p.Masked())
	}
	return nil
}

// IPAM hands out pod addresses.
type IPAM interface {
	// Allocate returns owner's address, allocating the lowest free one if
	// owner has none. Returns ErrPoolExhausted when the range is full.
	Allocate(owner, pod string) (netip.Addr, error)
	// Release frees owner's address; releasing nothing is not an error.
	Release(owner string) error
	// Router is the node's gateway address for pods.
	Router() netip.Addr
	// Range is the pod CIDR.
	Range() netip.Prefix
}

// Cell is the IPAM module.
var Cell = cell.Module("ipam", "Pod IPv4 address allocation",
	cell.Config(Config{IPv4Range: "10.244.0.0/24"}),
	cell.ProvidePrivate(func() (statedb.RWTable[*Allocation], error) {
		return statedb.NewTable(TableName, ByIP, ByOwner)
	}),
	cell.Provide(
		newIPAM,
		func(t statedb.RWTable[*Allocation]) statedb.Table[*Allocation] { return t.ToTable() },
	),
)

type params struct {
	cell.In
	Config    Config
	DB        *statedb.DB
	Table     statedb.RWTable[*Allocation]
	Dir       statedir.Dir
	Lifecycle cell.Lifecycle
	Log       *slog.Logger
}

type ipam struct {
	db    *statedb.DB
	table statedb.RWTable[*Allocation]
	file  string
	log   *slog.Logger
	pool  netip.Prefix

	mu      sync.Mutex // serialises allocation with persistence
	started bool
	init    func(statedb.WriteTxn)
}

func newIPAM(p params) (IPAM, error) {
	if err := p.DB.RegisterTable(p.Table); err != nil {
		return nil, err
	}
	pool := netip.MustParsePrefix(p.Config.IPv4Range) // validated by Config
	m := &ipam{db: p.DB, table: p.Table, file: p.Dir.Path("ipam.json"), log: p.Log, pool: pool}
	wtxn := p.DB.WriteTxn(p.Table)
	m.init = p.Table.RegisterInitializer(wtxn, "ipam-restored")
	wtxn.Commit()
	p.Lifecycle.Append(cell.Hook{Name: "ipam-restore", OnStart: m.restore})
	return m, nil
}

func (m *ipam) Router() netip.Addr  { return m.pool.Addr().Next() }
func (m *ipam) Range() netip.Prefix { return m.pool }

// restore loads the persisted allocations. Addresses outside the current range
// (the range changed) are dropped with a warning: a pod holding one keeps
// running, but a new pod cannot be given it.
func (m *ipam) restore(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var saved []*Allocation
	b, err := os.ReadFile(m.file)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read %s: %w", m.file, err)
	default:
		if err := json.Unmarshal(b, &saved); err != nil {
			return fmt.Errorf("parse %s: %w (move it away to start with no allocations)", m.file, err)
		}
	}
	wtxn := m.db.WriteTxn(m.table)
	defer wtxn.Abort()
	n := 0
	for _, a := range saved {
		if !m.pool.Contains(a.IP) {
			m.log.Warn("Dropping restored allocation outside --ipv4-range", "ip", a.IP, "owner", a.Owner, "range", m.pool)
			continue
		}
		if _, _, err := m.table.Insert(wtxn, a); err != nil {
			return err
		}
		n++
	}
	m.init(wtxn)
	wtxn.Commit()
	m.started = true
	m.log.Info("IPAM ready", "range", m.pool, "router", m.Router(), "restored", n)
	return nil
}

func (m *ipam) Allocate(owner, pod string) (netip.Addr, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.started {
		return netip.Addr{}, ErrNotStarted
	}
	wtxn := m.db.WriteTxn(m.table)
	defer wtxn.Abort()
	if a, _, ok := m.table.Get(wtxn, ByOwner.Query(owner)); ok {
		return a.IP, nil
	}
	ip, ok := m.lowestFree(wtxn)
	if !ok {
		return netip.Addr{}, fmt.Errorf("%w: all %d addresses of %s are in use", ErrPoolExhausted, m.capacity(), m.pool)
	}
	if _, _, err := m.table.Insert(wtxn, &Allocation{IP: ip, Owner: owner, Pod: pod, Allocated: time.Now()}); err != nil {
		return netip.Addr{}, err
	}
	if err := m.persist(wtxn); err != nil {
		return netip.Addr{}, err
	}
	wtxn.Commit()
	return ip, nil
}

func (m *ipam) Release(owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.started {
		return ErrNotStarted
	}
	wtxn := m.db.WriteTxn(m.table)
	defer wtxn.Abort()
	a, _, ok := m.table.Get(wtxn, ByOwner.Query(owner))
	if !ok {
		return nil
	}
	if _, _, err := m.table.Delete(wtxn, a); err != nil {
		return err
	}
	if err := m.persist(wtxn); err != nil {
		return err
	}
	wtxn.Commit()
	return nil
}

// capacity is the number of pod addresses: the range minus network,
// broadcast and router addresses.
func (m *ipam) capacity() int { return 1<<(32-m.pool.Bits()) - 3 }

func (m *ipam) lowestFree(txn statedb.ReadTxn) (netip.Addr, bool) {
	// The broadcast address is the range's last; walk up from the address
	// after the router, skipping the taken ones in one ordered pass.
	bcast := m.broadcast()
	next := m.Router().Next()
	for a := range m.table.LowerBound(txn, ByIP.Query(next)) {
		if a.IP != next {
			break
		}
		next = next.Next()
	}
	if next == bcast || !m.pool.Contains(next) {
		return netip.Addr{}, false
	}
	return next, true
}

func (m *ipam) broadcast() netip.Addr {
	b := m.pool.Addr().As4()
	host := uint32(1)<<(32-m.pool.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// persist writes the allocations as they will be after wtxn commits; the
// caller commits only if this succeeds, so the file never lags the table.
func (m *ipam) persist(txn statedb.ReadTxn) error {
	all := []*Allocation{}
	for a := range m.table.All(txn) {
		all = append(all, a)
	}
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	if err := statedir.WriteFileAtomic(m.file, b); err != nil {
		return fmt.Errorf("persist IP allocations: %w", err)
	}
	return nil
}
