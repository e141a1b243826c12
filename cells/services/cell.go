package services

import (
	"context"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/datapath"
	"github.com/hivenet/hivenet/cells/k8s"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/statedb"
)

// Cell is the kube-proxy replacement. It needs the datapath, statedb and
// the k8s tables (k8s.AgentCell); the agent runs it behind
// kube-proxy-replacement. Backend selection is the datapath's
// bpf-lb-algorithm, the maps' size its bpf-lb-map-max.
var Cell = cell.Module("services", "Kubernetes Services load-balanced by the datapath (kube-proxy replacement)",
	cell.Config(DefaultConfig),
	cell.Provide(
		newTables,
		func(t Tables) statedb.Table[*Frontend] { return t.Frontends },
		func(t Tables) statedb.Table[*Backend] { return t.Backends },
		func(t Tables) statedb.Table[*Service] { return t.Services },
		newAPIHandlers,
	),
	cell.Invoke(register),
)

type params struct {
	cell.In

	Config    Config
	DB        *statedb.DB
	Tables    Tables
	Services  statedb.Table[*corev1.Service]
	Slices    statedb.Table[*discoveryv1.EndpointSlice]
	Node      k8s.NodeName
	Datapath  datapath.Datapath
	Lifecycle cell.Lifecycle
	Jobs      cell.Jobs
	Log       *slog.Logger
}

// register runs the derivation and, once the datapath has loaded (its
// maps are pinned), the reconciler of the frontends into the lb4 maps.
func register(p params) {
	ctrl := newController(p.DB, p.Tables, p.Services, p.Slices, string(p.Node), p.Log)
	var (
		maps  *lbMaps
		hosts []*bpf.Host
	)
	hc := &healthChecker{db: p.DB, svcs: p.Tables.Services, log: p.Log, servers: map[uint16]*hcServer{}}
	p.Lifecycle.Append(cell.Hook{
		Name: "lb-maps",
		OnStart: func(context.Context) error {
			dcfg := p.Datapath.Config()
			m, err := openLBMaps(bpf.MapPinPath(dcfg.BPFRoot, ""), dcfg.LBMapMax, p.Log)
			if err != nil {
				return fmt.Errorf("open load-balancer maps: %w", err)
			}
			maps = m
			if err := restoreIDs(m, ctrl.feIDs, ctrl.beIDs); err != nil {
				return err
			}
			p.Log.Info("Restored load-balancer ids from the pinned maps",
				"frontends", ctrl.feIDs.len(), "backends", ctrl.beIDs.len())
			r, err := reconcilers.New(reconcilers.Config[*Frontend]{
				DB:              p.DB,
				Table:           p.Tables.Frontends,
				Operations:      newLBOps(m, dcfg.LBAlgorithm == bpf.LBAlgorithmMaglev),
				GetObjectStatus: func(f *Frontend) reconcilers.Status { return f.Status },
				SetObjectStatus: setFrontendStatus,
				Log:             p.Log,
			})
			if err != nil {
				return err
			}
			if hosts, err = attachNetdevs(p.Config, dcfg, p.Log); err != nil {
				return err
			}
			p.Jobs.Add(
				cell.OneShot("health-check-node-ports", func(ctx context.Context, h cell.Health) error { return hc.run(ctx, h) }),
				cell.OneShot("derive-services", func(ctx context.Context, h cell.Health) error {
					return ctrl.run(ctx, h)
				}),
				cell.OneShot("reconcile-frontends", func(ctx context.Context, h cell.Health) error {
					return r.Run(ctx, h)
				}),
			)
			return nil
		},
		OnStop: func(context.Context) error {
			closeHosts(hosts)
			if maps != nil {
				maps.close()
			}
			return nil
		},
	})
}

func setFrontendStatus(f *Frontend, s reconcilers.Status) *Frontend {
	c := *f
	c.Status = s
	return &c
}

func newTables(db *statedb.DB) (Tables, error) { return NewTables(db) }
