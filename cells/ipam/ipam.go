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

	corev1 "k8s.io/api/core/v1"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/k8s"
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
	// IPAM is the mode (Cilium's flag name): ModeKubernetes or ModeStatic;
	// empty picks kubernetes when the agent watches Kubernetes, else static.
	IPAM string `flag:"ipam" help:"IPAM mode: kubernetes (pod CIDR from this node's Node spec.podCIDR) or static (--ipv4-range); default kubernetes with --enable-k8s, else static"`
	// IPv4Range is this node's pod CIDR in static mode.
	IPv4Range string `flag:"ipv4-range" help:"IPv4 CIDR this node allocates pod addresses from with --ipam=static"`
}

// Validate implements cell.Validator.
func (c Config) Validate() error {
	switch c.IPAM {
	case "", ModeKubernetes, ModeStatic:
	default:
		return fmt.Errorf("--ipam=%q: unknown mode; use %s or %s", c.IPAM, ModeKubernetes, ModeStatic)
	}
	return validateRange("--ipv4-range", c.IPv4Range)
}

// validateRange checks a pod CIDR, naming where it came from in errors.
func validateRange(what, cidr string) error {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, cidr, err)
	}
	if !p.Addr().Is4() {
		return fmt.Errorf("%s %q: not an IPv4 CIDR", what, cidr)
	}
	if p.Bits() > 30 {
		return fmt.Errorf("%s %q: /%d leaves no room for pods; use /30 or larger", what, cidr, p.Bits())
	}
	if p.Masked() != p {
		return fmt.Errorf("%s %q: host bits set; did you mean %s?", what, cidr, p.Masked())
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
	// Range is the pod CIDR. Router and Range are valid once the cell has
	// started (in kubernetes mode, once the Node had a pod CIDR); cells
	// that depend on IPAM start after it.
	Range() netip.Prefix
}

// Modes of the ipam flag.
const (
	// ModeKubernetes takes the pod CIDR from spec.podCIDR of this node's
	// Node object, which kube-controller-manager allocates.
	ModeKubernetes = "kubernetes"
	// ModeStatic takes the pod CIDR from --ipv4-range.
	ModeStatic = "static"
)

// Cell is the IPAM module. With the Kubernetes tables in the hive (the
// agent's enable-k8s) its default mode is kubernetes, otherwise static.
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
	Jobs      cell.Jobs
	Log       *slog.Logger

	// Present only when the agent watches Kubernetes.
	Nodes    statedb.Table[*corev1.Node] `optional:"true"`
	NodeName k8s.NodeName                `optional:"true"`
}

type ipam struct {
	db    *statedb.DB
	table statedb.RWTable[*Allocation]
	file  string
	log   *slog.Logger
	mode  string

	mu      sync.Mutex // serialises allocation with persistence; guards pool
	pool    netip.Prefix
	started bool
	init    func(statedb.WriteTxn)
}

func newIPAM(p params) (IPAM, error) {
	mode := p.Config.IPAM
	if mode == "" {
		mode = ModeStatic
		if p.Nodes != nil {
			mode = ModeKubernetes
		}
	}
	if mode == ModeKubernetes && (p.Nodes == nil || p.NodeName == "") {
		return nil, fmt.Errorf("--ipam=%s needs the Kubernetes node table: enable --enable-k8s or use --ipam=%s", ModeKubernetes, ModeStatic)
	}
	if err := p.DB.RegisterTable(p.Table); err != nil {
		return nil, err
	}
	m := &ipam{db: p.DB, table: p.Table, file: p.Dir.Path("ipam.json"), log: p.Log, mode: mode}
	wtxn := p.DB.WriteTxn(p.Table)
	m.init = p.Table.RegisterInitializer(wtxn, "ipam-restored")
	wtxn.Commit()
	if mode == ModeStatic {
		pool := netip.MustParsePrefix(p.Config.IPv4Range) // validated by Config
		p.Lifecycle.Append(cell.Hook{Name: "ipam-restore", OnStart: func(ctx context.Context) error {
			return m.restore(ctx, pool)
		}})
		return m, nil
	}
	k := &k8sPodCIDR{ipam: m, nodes: p.Nodes, node: string(p.NodeName), file: p.Dir.Path("ipam-pod-cidr"), jobs: p.Jobs}
	p.Lifecycle.Append(cell.Hook{Name: "ipam-restore", OnStart: k.start})
	return m, nil
}

func (m *ipam) Router() netip.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	return RouterOf(m.pool)
}

func (m *ipam) Range() netip.Prefix {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pool
}

// RouterOf is the router (gateway) address of a pod CIDR: its first usable
// address. Other nodes compute it the same way to route to this node's pods.
func RouterOf(cidr netip.Prefix) netip.Addr {
	if !cidr.IsValid() {
		return netip.Addr{}
	}
	return cidr.Masked().Addr().Next()
}

// restore loads the persisted allocations into pool. Addresses outside it
// (the range changed) are dropped with a warning: a pod holding one keeps
// running, but a new pod cannot be given it.
func (m *ipam) restore(_ context.Context, pool netip.Prefix) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pool = pool
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
			m.log.Warn("Dropping restored allocation outside the pod CIDR", "ip", a.IP, "owner", a.Owner, "range", m.pool)
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
	m.log.Info("IPAM ready", "mode", m.mode, "range", m.pool, "router", RouterOf(m.pool), "restored", n)
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
	next := RouterOf(m.pool).Next()
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
