package routing

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/masquerade"
	"github.com/hivenet/hivenet/cells/nodes"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/reconcilers/netlink"
	"github.com/hivenet/hivenet/statedb"
)

// Cell is the routing module: flags routing-mode, tunnel-protocol and
// tunnel-port; the routes and tunnel-peers tables and their reconcilers. It
// needs the nodes cell.
var Cell = cell.Module("routing", "Routes to pods on other nodes (tunnel or native routing)",
	cell.Config(DefaultConfig),
	cell.ProvidePrivate(NewRoutesTable, NewPeersTable),
	cell.Provide(
		newRouting,
		func(r *routing) statedb.Table[*Route] { return r.routes.ToTable() },
		func(r *routing) statedb.Table[*Peer] { return r.peers.ToTable() },
	),
	cell.Invoke(func(*routing) {}),
)

type params struct {
	cell.In

	Config     Config
	DB         *statedb.DB
	Routes     statedb.RWTable[*Route]
	Peers      statedb.RWTable[*Peer]
	Nodes      statedb.Table[*nodes.Node]
	Masquerade masquerade.Config `optional:"true"`
	// From reconcilers.Cell when the hive has it: the --reconciler-* flags
	// and the exported metrics.
	ReconcilerParams reconcilers.Params   `optional:"true"`
	Metrics          *reconcilers.Metrics `optional:"true"`
	Jobs             cell.Jobs
	Lifecycle        cell.Lifecycle
	Log              *slog.Logger
}

type routing struct {
	cfg       Config
	masq      masquerade.Config
	db        *statedb.DB
	routes    statedb.RWTable[*Route]
	peers     statedb.RWTable[*Peer]
	nodes     statedb.Table[*nodes.Node]
	jobs      cell.Jobs
	log       *slog.Logger
	recParams reconcilers.Params
	metrics   *reconcilers.Metrics
	initRoute func(statedb.WriteTxn)
	initPeer  func(statedb.WriteTxn)
}

func newRouting(p params) (*routing, error) {
	if err := p.DB.RegisterTable(p.Routes); err != nil {
		return nil, err
	}
	if err := p.DB.RegisterTable(p.Peers); err != nil {
		return nil, err
	}
	r := &routing{
		cfg: p.Config, masq: p.Masquerade, db: p.DB, routes: p.Routes, peers: p.Peers,
		nodes: p.Nodes, jobs: p.Jobs, log: p.Log, recParams: p.ReconcilerParams, metrics: p.Metrics,
	}
	wtxn := p.DB.WriteTxn(p.Routes, p.Peers)
	r.initRoute = p.Routes.RegisterInitializer(wtxn, "nodes-synced")
	r.initPeer = p.Peers.RegisterInitializer(wtxn, "nodes-synced")
	wtxn.Commit()
	p.Lifecycle.Append(cell.Hook{Name: "routing", OnStart: r.start})
	return r, nil
}

// start prepares the device of the mode and starts the table sync and the
// two reconcilers. They share one netlink handle, closed once all three
// have stopped.
func (r *routing) start(context.Context) error {
	if r.cfg.RoutingMode == ModeNative && r.masq.EnableIPv4Masquerade && r.masq.NativeRoutingCIDR == "" {
		return fmt.Errorf("--routing-mode=native with --enable-ipv4-masquerade needs --ipv4-native-routing-cidr (the cluster's pod CIDR), or pod-to-pod traffic between nodes would be masqueraded")
	}
	h, err := netlink.NewHandle("")
	if err != nil {
		return err
	}
	if r.cfg.RoutingMode == ModeTunnel {
		err = ensureDevice(h, r.cfg.Port(), r.log)
	} else {
		err = removeDevice(h, r.log)
	}
	if err != nil {
		h.Close()
		return err
	}
	routeOps := newRouteOps(h, unix.RT_TABLE_MAIN)
	routeRec, err := reconcilers.New(reconcilers.Config[*Route]{
		DB: r.db, Table: r.routes, Operations: routeOps, Log: r.log, Params: r.recParams, Metrics: r.metrics,
		GetObjectStatus: func(rt *Route) reconcilers.Status { return rt.Status },
		SetObjectStatus: func(rt *Route, s reconcilers.Status) *Route { c := *rt; c.Status = s; return &c },
	})
	if err != nil {
		h.Close()
		return err
	}
	peerRec, err := reconcilers.New(reconcilers.Config[*Peer]{
		DB: r.db, Table: r.peers, Operations: newPeerOps(h, DeviceName), Log: r.log, Params: r.recParams, Metrics: r.metrics,
		GetObjectStatus: func(p *Peer) reconcilers.Status { return p.Status },
		SetObjectStatus: func(p *Peer, s reconcilers.Status) *Peer { c := *p; c.Status = s; return &c },
	})
	if err != nil {
		h.Close()
		return err
	}
	s := &syncer{
		mode: r.cfg.RoutingMode, db: r.db, nodes: r.nodes, routes: r.routes, peers: r.peers,
		initRoute: r.initRoute, initPeer: r.initPeer, h: h, log: r.log,
	}
	var users sync.WaitGroup
	users.Add(3)
	go func() { users.Wait(); h.Close() }()
	r.jobs.Add(
		cell.OneShot("derive-routes", func(ctx context.Context, hl cell.Health) error {
			defer users.Done()
			return s.run(ctx, hl)
		}),
		cell.OneShot("reconcile-routes", func(ctx context.Context, hl cell.Health) error {
			defer users.Done()
			return routeRec.Run(ctx, hl)
		}),
		cell.OneShot("reconcile-tunnel-peers", func(ctx context.Context, hl cell.Health) error {
			defer users.Done()
			return peerRec.Run(ctx, hl)
		}),
	)
	r.log.Info("Routing to other nodes", "mode", r.cfg.RoutingMode, "tunnel-port", r.cfg.Port())
	return nil
}
