package endpoints

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"golang.org/x/sys/unix"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/datapath"
	"github.com/hivenet/hivenet/cells/identity"
	"github.com/hivenet/hivenet/cells/ipam"
	"github.com/hivenet/hivenet/cells/statedir"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/reconcilers/bpfmap"
	"github.com/hivenet/hivenet/statedb"
)

// Config is the endpoints cell's configuration.
type Config struct {
	MTU int `flag:"mtu" help:"MTU of pod interfaces"`
	// WriteCNIConfWhenReady is where to write the CNI conflist once the
	// agent can serve ADD, e.g. /etc/cni/net.d/05-hivenet.conflist.
	WriteCNIConfWhenReady string `flag:"write-cni-conf-when-ready" help:"Write the CNI conflist to this path once endpoints are restored (empty: do not write)"`
}

// Validate implements cell.Validator.
func (c Config) Validate() error {
	if c.MTU < 576 || c.MTU > 65535 {
		return fmt.Errorf("--mtu=%d: must be between 576 and 65535", c.MTU)
	}
	return nil
}

// Cell is the endpoints module: the endpoints table, the CNI handlers that
// fill it, its restore after restarts, and the reconciler that keeps the
// datapath's endpoints map (cilium_lxc) equal to the table.
var Cell = cell.Module("endpoints", "Pod endpoints: CNI wiring and the endpoints table",
	cell.Config(Config{MTU: 1500}),
	cell.ProvidePrivate(NewTable),
	cell.Provide(
		func(t statedb.RWTable[*Endpoint]) statedb.Table[*Endpoint] { return t.ToTable() },
		newManager,
		newAPIHandlers,
	),
	cell.Invoke(func(*manager) {}),
)

type params struct {
	cell.In
	Config    Config
	DB        *statedb.DB
	Table     statedb.RWTable[*Endpoint]
	IPAM      ipam.IPAM
	Datapath  datapath.Datapath
	Dir       statedir.Dir
	Lifecycle cell.Lifecycle
	Jobs      cell.Jobs
	Health    cell.Health
	Log       *slog.Logger
	API       api.Config `optional:"true"`
	// PodIdentities is the identity cell's table, absent without k8s.
	PodIdentities statedb.Table[*identity.PodIdentity] `optional:"true"`
	// Metrics are the process's shared reconciler metrics, when the hive
	// has the reconcilers cell.
	Metrics *reconcilers.Metrics `optional:"true"`
}

func newManager(p params) (*manager, error) {
	if err := p.DB.RegisterTable(p.Table); err != nil {
		return nil, err
	}
	m := &manager{
		cfg: p.Config, db: p.DB, table: p.Table, ipam: p.IPAM, dp: p.Datapath,
		stateDir: p.Dir.Path("endpoints"), log: p.Log, jobs: p.Jobs, health: p.Health,
		socketPath: p.API.SocketPath, metrics: p.Metrics,
	}
	wtxn := p.DB.WriteTxn(p.Table)
	m.initDone = p.Table.RegisterInitializer(wtxn, "endpoints-restored")
	wtxn.Commit()
	p.Lifecycle.Append(cell.Hook{Name: "endpoints", OnStart: m.start, OnStop: m.stop})
	if p.PodIdentities != nil {
		p.Jobs.Add(cell.OneShot("follow-pod-identities", m.followIdentities(p.PodIdentities)))
	}
	return m, nil
}

// start prepares the node side (forwarding, router device), starts the
// endpoints map reconciler, then restores the endpoints of the previous run.
// The reconciler prunes the map only after the restore initialised the table,
// so endpoints that survived keep their entries throughout.
func (m *manager) start(ctx context.Context) error {
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enable IPv4 forwarding: %w", err)
	}
	if err := ensureRouterDevice(m.ipam.Router()); err != nil {
		return err
	}
	epMap, err := bpfmap.New[bpf.EndpointKey, bpf.EndpointInfo](bpfmap.Spec{
		Name:       bpf.MapEndpoints,
		Type:       ebpfHash,
		MaxEntries: endpointsMapSize,
		Flags:      unix.BPF_F_NO_PREALLOC,
		PinDir:     bpf.MapPinPath(m.dp.Config().BPFRoot, ""),
	}, m.log)
	if err != nil {
		return err
	}
	if err := epMap.Open(); err != nil {
		return fmt.Errorf("open endpoints map: %w", err)
	}
	m.epMap = epMap
	r, err := reconcilers.New(reconcilers.Config[*Endpoint]{
		DB:              m.db,
		Table:           m.table,
		Operations:      bpfmap.NewOps(epMap, endpointKey, endpointInfo),
		GetObjectStatus: func(e *Endpoint) reconcilers.Status { return e.Status },
		SetObjectStatus: func(e *Endpoint, s reconcilers.Status) *Endpoint {
			c := *e
			c.Status = s
			return &c
		},
		Metrics: m.metrics,
		Log:     m.log,
	})
	if err != nil {
		return err
	}
	m.reconciler = r
	m.jobs.Add(cell.OneShot("endpoints-map-reconciler", func(ctx context.Context, h cell.Health) error {
		return r.Run(ctx, h)
	}))
	if err := m.restore(ctx); err != nil {
		return err
	}
	if path := m.cfg.WriteCNIConfWhenReady; path != "" {
		if err := writeConflist(path, m.socketPath); err != nil {
			return err
		}
		m.log.Info("CNI configuration written", "path", path)
	}
	return nil
}

func (m *manager) stop(context.Context) error {
	if m.epMap != nil {
		return m.epMap.Close()
	}
	return nil
}

func endpointKey(e *Endpoint) bpf.EndpointKey { return bpf.NewEndpointKey(e.IPv4) }

func endpointInfo(e *Endpoint) bpf.EndpointInfo {
	hostMAC, _ := net.ParseMAC(e.HostMAC)
	mac, _ := net.ParseMAC(e.MAC)
	return bpf.Endpoint{
		IP: e.IPv4, IfIndex: e.HostIfIndex, ID: e.ID, Identity: e.Identity,
		MAC: mac, NodeMAC: hostMAC,
	}.Info()
}

func newAPIHandlers(m *manager) apiHandlersOut {
	return apiHandlersOut{
		Add:   api.Handler{Pattern: "POST /v1/cni/add", Handler: m.cniHandler(m.cniAdd)},
		Del:   api.Handler{Pattern: "POST /v1/cni/del", Handler: m.cniHandler(m.cniDel)},
		Check: api.Handler{Pattern: "POST /v1/cni/check", Handler: m.cniHandler(m.cniCheck)},
	}
}

type apiHandlersOut struct {
	cell.Out
	Add   api.Handler `group:"api-handlers"`
	Del   api.Handler `group:"api-handlers"`
	Check api.Handler `group:"api-handlers"`
}
