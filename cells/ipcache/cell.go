package ipcache

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"

	"github.com/cilium/ebpf"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/datapath"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/identity"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/nodes"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/reconcilers/bpfmap"
	"github.com/hivenet/hivenet/statedb"
)

// Cell is the agent's ipcache module: the ipcache table, its reconciler
// into cilium_ipcache, and the CiliumEndpoint writer. It needs the k8s,
// identity, endpoints, nodes and datapath cells.
var Cell = cell.Module("ipcache", "IP to identity cache (cilium_ipcache) and CiliumEndpoint publishing",
	cell.ProvidePrivate(NewTable),
	cell.Provide(newIPCache, newAPIHandlers),
	cell.Invoke(newCEPWriter),
)

type params struct {
	cell.In

	DB         *statedb.DB
	Table      statedb.RWTable[*Entry]
	Endpoints  statedb.Table[*endpoints.Endpoint]
	CEPs       statedb.Table[*v2.CiliumEndpoint]
	Nodes      statedb.Table[*nodes.Node]
	Identities statedb.Table[*identity.Identity]
	Datapath   datapath.Datapath
	Lifecycle  cell.Lifecycle
	Jobs       cell.Jobs
	Log        *slog.Logger
}

func newIPCache(p params) (statedb.Table[*Entry], error) {
	if err := p.DB.RegisterTable(p.Table); err != nil {
		return nil, err
	}
	wtxn := p.DB.WriteTxn(p.Table)
	initDone := p.Table.RegisterInitializer(wtxn, "ipcache-sources-synced")
	wtxn.Commit()
	var m *bpfmap.Map[Key, Value]
	p.Lifecycle.Append(cell.Hook{
		Name: "ipcache-map",
		OnStart: func(context.Context) error {
			var err error
			m, err = bpfmap.New[Key, Value](bpfmap.Spec{
				Name: MapName, Type: ebpf.LPMTrie, MaxEntries: MapMaxEntries,
				PinDir: bpf.MapPinPath(p.Datapath.Config().BPFRoot, ""),
			}, p.Log)
			if err != nil {
				return err
			}
			if err := m.Open(); err != nil {
				return fmt.Errorf("open %s: %w", MapName, err)
			}
			r, err := reconcilers.New(reconcilers.Config[*Entry]{
				DB: p.DB, Table: p.Table,
				Operations:      bpfmap.NewOps(m, func(e *Entry) Key { return NewKey(e.Prefix) }, NewValue),
				GetObjectStatus: func(e *Entry) reconcilers.Status { return e.Status },
				SetObjectStatus: func(e *Entry, s reconcilers.Status) *Entry { c := *e; c.Status = s; return &c },
				Log:             p.Log,
			})
			if err != nil {
				return err
			}
			p.Jobs.Add(
				cell.OneShot("derive-ipcache", func(ctx context.Context, h cell.Health) error {
					return syncLoop(ctx, h, p, initDone)
				}),
				cell.OneShot("reconcile-ipcache", func(ctx context.Context, h cell.Health) error { return r.Run(ctx, h) }),
			)
			return nil
		},
		OnStop: func(context.Context) error {
			if m != nil {
				return m.Close()
			}
			return nil
		},
	})
	return p.Table.ToTable(), nil
}

// syncLoop keeps the table equal to Desired, recomputed on every change of
// an input: at most tens of thousands of rows, diffed so that only changed
// entries reach the reconciler.
func syncLoop(ctx context.Context, h cell.Health, p params, initDone func(statedb.WriteTxn)) error {
	initialised := false
	for {
		txn := p.DB.ReadTxn()
		var in Inputs
		var watches []<-chan struct{}
		eps, w := p.Endpoints.AllWatch(txn)
		watches = append(watches, w)
		for ep := range eps {
			in.Endpoints = append(in.Endpoints, ep)
		}
		ceps, w := p.CEPs.AllWatch(txn)
		watches = append(watches, w)
		for c := range ceps {
			in.CEPs = append(in.CEPs, c)
		}
		ns, w := p.Nodes.AllWatch(txn)
		watches = append(watches, w)
		for n := range ns {
			in.Nodes = append(in.Nodes, n)
		}
		ids, w := p.Identities.AllWatch(txn)
		watches = append(watches, w)
		for id := range ids {
			in.Identities = append(in.Identities, id)
		}
		desired := Desired(in)
		ready := true
		for _, t := range []statedb.TableMeta{p.Endpoints, p.CEPs, p.Nodes} {
			if ok, w := t.Initialized(txn); !ok {
				ready = false
				watches = append(watches, w)
			}
		}

		wtxn := p.DB.WriteTxn(p.Table)
		var stale []*Entry
		for old := range p.Table.All(wtxn) {
			if _, ok := desired[old.Prefix]; !ok {
				stale = append(stale, old)
			}
		}
		for _, old := range stale {
			if _, _, err := p.Table.Delete(wtxn, old); err != nil {
				wtxn.Abort()
				return err
			}
		}
		for pfx, e := range desired {
			if old, _, ok := p.Table.Get(wtxn, ByPrefix.Query(pfx)); ok && old.Equal(e) {
				continue
			}
			e.Status = reconcilers.StatusPending()
			if _, _, err := p.Table.Insert(wtxn, e); err != nil {
				wtxn.Abort()
				return err
			}
		}
		if ready && !initialised {
			initDone(wtxn)
			initialised = true
		}
		wtxn.Commit()
		h.OK(fmt.Sprintf("%d entries", len(desired)))
		if err := waitAny(ctx, watches...); err != nil {
			return nil
		}
	}
}

// MapEntry is one cilium_ipcache entry as the kernel holds it, the rows of
// `hivenet bpf ipcache list`.
type MapEntry struct {
	Prefix         netip.Prefix `json:"prefix"`
	Identity       uint32       `json:"identity"`
	TunnelEndpoint netip.Addr   `json:"tunnelEndpoint,omitzero"`
	EncryptKey     uint8        `json:"encryptKey"`
	Flags          uint8        `json:"flags"`
}

// DumpMap reads the pinned ipcache map under a bpf root.
func DumpMap(root string) ([]MapEntry, error) {
	m, err := ebpf.LoadPinnedMap(bpf.MapPinPath(root, MapName), &ebpf.LoadPinOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", MapName, err)
	}
	defer m.Close()
	out := []MapEntry{}
	var k Key
	var v Value
	it := m.Iterate()
	for it.Next(&k, &v) {
		e := MapEntry{Prefix: k.Prefix(), Identity: v.SecIdentity, EncryptKey: v.Key, Flags: v.Flags}
		if t, ok := v.Tunnel(); ok {
			e.TunnelEndpoint = t
		}
		out = append(out, e)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b MapEntry) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return a.Prefix.Bits() - b.Prefix.Bits()
	})
	return out, nil
}

type apiOut struct {
	cell.Out
	Table api.Handler `group:"api-handlers"`
	Map   api.Handler `group:"api-handlers"`
}

func newAPIHandlers(db *statedb.DB, t statedb.Table[*Entry], dp datapath.Datapath) apiOut {
	return apiOut{
		Table: api.Handler{Pattern: "GET /v1/ipcache", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			out := []*Entry{}
			for e := range t.All(db.ReadTxn()) {
				out = append(out, e)
			}
			api.WriteJSON(w, http.StatusOK, out)
		})},
		Map: api.Handler{Pattern: "GET /v1/bpf/ipcache", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			es, err := DumpMap(dp.Config().BPFRoot)
			if err != nil {
				api.WriteError(w, http.StatusServiceUnavailable, err.Error())
				return
			}
			api.WriteJSON(w, http.StatusOK, es)
		})},
	}
}
