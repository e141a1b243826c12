package policy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/datapath"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/identity"
	"github.com/hivenet/hivenet/cells/k8s"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/statedb"
)

// Config is the policy cell's configuration, with Cilium's flag name.
type Config struct {
	EnablePolicy string `flag:"enable-policy" help:"Policy enforcement mode: default (enforce once a policy selects an endpoint), always, never"`
}

// Validate implements cell.Validator.
func (c Config) Validate() error {
	switch Mode(c.EnablePolicy) {
	case ModeDefault, ModeAlways, ModeNever:
		return nil
	}
	return fmt.Errorf("--enable-policy=%q: must be default, always or never", c.EnablePolicy)
}

// Cell is the agent's policy module: policies and policy-entries tables,
// the resolver that fills them from the k8s policy tables, identities and
// endpoints, and the reconciler into the per-endpoint policy maps. It needs
// the k8s, identity, endpoints and datapath cells.
var Cell = cell.Module("policy", "Network policy: NetworkPolicy and Cilium policies resolved into per-endpoint BPF policy maps",
	cell.Config(Config{EnablePolicy: string(ModeDefault)}),
	cell.ProvidePrivate(NewEntriesTable, NewPoliciesTable, NewCookies),
	cell.Provide(newPolicy, newAPIHandlers),
)

type params struct {
	cell.In

	Config    Config
	DB        *statedb.DB
	Entries   statedb.RWTable[*Entry]
	Statuses  statedb.RWTable[*Status]
	Cookies   *Cookies
	NPs       statedb.Table[*networkingv1.NetworkPolicy]
	CNPs      statedb.Table[*v2.CiliumNetworkPolicy]
	CCNPs     statedb.Table[*v2.CiliumClusterwideNetworkPolicy]
	IDs       statedb.Table[*identity.Identity]
	Endpoints statedb.Table[*endpoints.Endpoint]
	CEPs      statedb.Table[*v2.CiliumEndpoint]
	Datapath  datapath.Datapath
	Clientset *client.Clientset
	Node      k8s.NodeName
	Lifecycle cell.Lifecycle
	Jobs      cell.Jobs
	Log       *slog.Logger
}

// Tables are the policy cell's read-only tables.
type Tables struct {
	cell.Out
	Entries  statedb.Table[*Entry]
	Statuses statedb.Table[*Status]
}

func newPolicy(p params) (Tables, error) {
	if err := p.DB.RegisterTable(p.Entries, p.Statuses); err != nil {
		return Tables{}, err
	}
	wtxn := p.DB.WriteTxn(p.Entries)
	initDone := p.Entries.RegisterInitializer(wtxn, "policy-resolved")
	wtxn.Commit()
	c := &controller{
		db: p.DB, entries: p.Entries, statuses: p.Statuses,
		nps: p.NPs, cnps: p.CNPs, ccnps: p.CCNPs, ids: p.IDs, eps: p.Endpoints, ceps: p.CEPs,
		log: p.Log, initDone: initDone, r: NewResolver(Mode(p.Config.EnablePolicy)),
		epIdentity: map[uint16]identity.ID{}, byIdentity: map[identity.ID]map[uint16]struct{}{},
		cepPorts: map[string]cepNamedPorts{}, generations: map[string]int64{},
	}
	var ops *mapOps
	p.Lifecycle.Append(cell.Hook{
		Name: "policy-maps",
		OnStart: func(context.Context) error {
			ops = newMapOps(bpf.MapPinPath(p.Datapath.Config().BPFRoot, ""), p.Cookies, p.Log)
			if err := ops.open(); err != nil {
				return err
			}
			r, err := reconcilers.New(reconcilers.Config[*Entry]{
				DB: p.DB, Table: p.Entries, Operations: ops,
				GetObjectStatus: func(e *Entry) reconcilers.Status { return e.Status },
				SetObjectStatus: func(e *Entry, s reconcilers.Status) *Entry { c := *e; c.Status = s; return &c },
				Log:             p.Log,
			})
			if err != nil {
				return err
			}
			sw := &statusWriter{db: p.DB, statuses: p.Statuses, cnps: p.CNPs, ccnps: p.CCNPs, nps: p.NPs, cs: p.Clientset,
				node: string(p.Node), log: p.Log, evented: map[string]string{}}
			p.Jobs.Add(
				cell.OneShot("resolve-policy", c.run),
				cell.OneShot("write-policy-status", sw.run),
				cell.OneShot("reconcile-policy-maps", func(ctx context.Context, h cell.Health) error { return r.Run(ctx, h) }),
			)
			return nil
		},
		OnStop: func(context.Context) error {
			if ops != nil {
				ops.close()
			}
			return nil
		},
	})
	return Tables{Entries: p.Entries.ToTable(), Statuses: p.Statuses.ToTable()}, nil
}

// EndpointPolicy is one endpoint's policy as GET /v1/policy serves it, the
// output of `hivenet policy get`.
type EndpointPolicy struct {
	Endpoint uint16      `json:"endpoint"`
	Pod      string      `json:"pod"`
	Identity identity.ID `json:"identity"`
	Entries  []MapEntry  `json:"entries"`
}

// MapEntry is one entry in the columns of cilium-dbg bpf policy get.
type MapEntry struct {
	Policy    string `json:"policy"` // Allow or Deny
	Direction string `json:"direction"`
	Identity  uint32 `json:"identity"`
	Port      string `json:"port"` // 80/TCP, ANY
	Policies  string `json:"policies,omitempty"`
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
	Status    string `json:"status,omitempty"`
}

func mapEntry(k MapKey, deny bool, policies string) MapEntry {
	e := MapEntry{Policy: "Allow", Direction: k.Direction.String(), Identity: k.Identity, Port: "ANY", Policies: policies}
	if deny {
		e.Policy = "Deny"
	}
	if k.Proto != ProtoAny {
		lo, hi := k.PortRange()
		switch {
		case k.PortBits == 0:
			e.Port = "ANY/" + ProtoName(k.Proto)
		case lo == hi:
			e.Port = strconv.Itoa(int(lo)) + "/" + ProtoName(k.Proto)
		default:
			e.Port = fmt.Sprintf("%d-%d/%s", lo, hi, ProtoName(k.Proto))
		}
	}
	return e
}

func sortEntries(es []MapEntry) {
	slices.SortFunc(es, func(a, b MapEntry) int {
		if a.Direction != b.Direction {
			if a.Direction == "Ingress" {
				return -1
			}
			return 1
		}
		if a.Identity != b.Identity {
			return int(a.Identity) - int(b.Identity)
		}
		if a.Port < b.Port {
			return -1
		}
		if a.Port > b.Port {
			return 1
		}
		return 0
	})
}

type apiOut struct {
	cell.Out
	Policies api.Handler `group:"api-handlers"`
	Statuses api.Handler `group:"api-handlers"`
	BPF      api.Handler `group:"api-handlers"`
	Cookies  api.Handler `group:"api-handlers"`
}

func newAPIHandlers(db *statedb.DB, entries statedb.Table[*Entry], statuses statedb.Table[*Status], eps statedb.Table[*endpoints.Endpoint], dp datapath.Datapath, cookies *Cookies) apiOut {
	return apiOut{
		Policies: api.Handler{Pattern: "GET /v1/policy", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			txn := db.ReadTxn()
			out := []EndpointPolicy{}
			for ep := range eps.All(txn) {
				p := EndpointPolicy{Endpoint: ep.ID, Pod: ep.PodName(), Identity: ep.Identity, Entries: []MapEntry{}}
				for e := range entries.List(txn, EntryByEndpoint.Query(ep.ID)) {
					me := mapEntry(e.Key, e.Verdict.Deny, joinNames(e.Verdict.Policies))
					me.Status = e.Status.String()
					p.Entries = append(p.Entries, me)
				}
				sortEntries(p.Entries)
				out = append(out, p)
			}
			api.WriteJSON(w, http.StatusOK, out)
		})},
		Statuses: api.Handler{Pattern: "GET /v1/policy/status", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			out := []*Status{}
			for s := range statuses.All(db.ReadTxn()) {
				out = append(out, s)
			}
			api.WriteJSON(w, http.StatusOK, out)
		})},
		Cookies: api.Handler{Pattern: "GET /v1/policy/cookies", Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			api.WriteJSON(w, http.StatusOK, cookies.All())
		})},
		BPF: api.Handler{Pattern: "GET /v1/bpf/policy/{endpoint}", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, err := strconv.ParseUint(r.PathValue("endpoint"), 10, 16)
			if err != nil {
				api.WriteError(w, http.StatusBadRequest, fmt.Sprintf("endpoint %q: want an endpoint id (hivenet endpoint list)", r.PathValue("endpoint")))
				return
			}
			m, err := DumpMap(bpf.MapPinPath(dp.Config().BPFRoot, ""), uint16(n))
			if err != nil {
				api.WriteError(w, http.StatusNotFound, err.Error())
				return
			}
			out := []MapEntry{}
			for k, v := range m {
				me := mapEntry(k, v.Flags&FlagDeny != 0, cookies.Name(v.Cookie))
				me.Packets, me.Bytes = v.Packets, v.Bytes
				out = append(out, me)
			}
			sortEntries(out)
			api.WriteJSON(w, http.StatusOK, out)
		})},
	}
}

func joinNames(ns []string) string {
	s := ""
	for i, n := range ns {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}
