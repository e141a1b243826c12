package policy

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/identity"
	"github.com/hivenet/hivenet/cells/k8s"
	"github.com/hivenet/hivenet/statedb"
)

type nopHealth struct{}

func (nopHealth) OK(string)                   {}
func (nopHealth) Degraded(string, error)      {}
func (nopHealth) Stopped(string)              {}
func (nopHealth) NewScope(string) cell.Health { return nopHealth{} }

type controllerFixture struct {
	t    *testing.T
	db   *statedb.DB
	c    *controller
	nps  statedb.RWTable[*networkingv1.NetworkPolicy]
	ids  statedb.RWTable[*identity.Identity]
	eps  statedb.RWTable[*endpoints.Endpoint]
	stop func()
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func newControllerFixture(t *testing.T) *controllerFixture {
	db := statedb.New()
	f := &controllerFixture{t: t, db: db,
		nps: must(k8s.NewNetworkPoliciesTable()), ids: must(identity.NewTable()), eps: must(endpoints.NewTable())}
	cnps, ccnps, ceps := must(k8s.NewCiliumNetworkPoliciesTable()), must(k8s.NewCiliumClusterwideNetworkPoliciesTable()), must(k8s.NewCiliumEndpointsTable())
	entries, statuses := must(NewEntriesTable()), must(NewPoliciesTable())
	if err := db.RegisterTable(f.nps, f.ids, f.eps, cnps, ccnps, ceps, entries, statuses); err != nil {
		t.Fatal(err)
	}
	f.c = &controller{
		db: db, entries: entries, statuses: statuses, nps: f.nps, cnps: cnps, ccnps: ccnps, ids: f.ids, eps: f.eps, ceps: ceps,
		log: slog.New(slog.DiscardHandler), initDone: func(statedb.WriteTxn) {}, r: NewResolver(ModeDefault),
		epIdentity: map[uint16]identity.ID{}, byIdentity: map[identity.ID]map[uint16]struct{}{},
		cepPorts: map[string]cepNamedPorts{}, generations: map[string]int64{},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.c.run(ctx, nopHealth{}); close(done) }()
	f.stop = func() { cancel(); <-done }
	t.Cleanup(f.stop)
	wtxn := db.WriteTxn(f.ids)
	for _, id := range identity.Reserved() {
		f.ids.Insert(wtxn, id)
	}
	for i, app := range []string{"server", "client"} {
		f.ids.Insert(wtxn, &identity.Identity{ID: identity.ID(256 + i), Kind: identity.KindCluster,
			Labels: identity.PodLabels(map[string]string{"app": app}, "default", nil, "")})
	}
	wtxn.Commit()
	return f
}

func insert[T any](f *controllerFixture, tbl statedb.RWTable[T], objs ...T) {
	wtxn := f.db.WriteTxn(tbl)
	for _, o := range objs {
		if _, _, err := tbl.Insert(wtxn, o); err != nil {
			f.t.Fatal(err)
		}
	}
	wtxn.Commit()
}

// waitEntries waits until endpoint ep's rows satisfy cond.
func (f *controllerFixture) waitEntries(what string, ep uint16, cond func(map[MapKey]Verdict) error) {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := map[MapKey]Verdict{}
		for e := range f.c.entries.List(f.db.ReadTxn(), EntryByEndpoint.Query(ep)) {
			got[e.Key] = e.Verdict
		}
		err := cond(got)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func allowsFrom(id identity.ID, want Decision) func(map[MapKey]Verdict) error {
	return func(es map[MapKey]Verdict) error {
		if len(es) == 0 {
			return fmt.Errorf("no entries")
		}
		if d, _ := Lookup(es, id, Ingress, ProtoTCP, 80); d != want {
			return fmt.Errorf("from %d: %s, want %s (entries %v)", id, d, want, es)
		}
		return nil
	}
}

func TestControllerFollowsTables(t *testing.T) {
	f := newControllerFixture(t)
	insert(f, f.eps, &endpoints.Endpoint{ID: 1, Namespace: "default", Pod: "server-1", Identity: 256},
		&endpoints.Endpoint{ID: 2, Namespace: "default", Pod: "server-2", Identity: 256})
	f.waitEntries("no policy: allow all", 1, allowsFrom(300, Allowed))

	np := mustNP(t, `
metadata: {name: allow-client, namespace: default, generation: 1}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]`)
	insert(f, f.nps, np)
	for _, ep := range []uint16{1, 2} {
		f.waitEntries("client allowed", ep, allowsFrom(257, Allowed))
		f.waitEntries("others denied", ep, allowsFrom(300, DeniedByDefault))
	}

	// An invalid update is rejected; the last valid version stays.
	bad := np.DeepCopy()
	bad.Generation = 2
	bad.Spec.Ingress[0].From[0].PodSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Sometimes"}}
	insert(f, f.nps, bad)
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, _, ok := f.c.statuses.Get(f.db.ReadTxn(), PolicyByName.Query("NetworkPolicy default/allow-client"))
		if ok && !s.Valid && s.Enforcing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v, want rejected with the last valid version enforcing", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.waitEntries("client still allowed after a rejected update", 1, allowsFrom(257, Allowed))

	// A deleted endpoint loses its rows; the other keeps them.
	wtxn := f.db.WriteTxn(f.eps)
	f.eps.Delete(wtxn, &endpoints.Endpoint{ID: 2})
	wtxn.Commit()
	f.waitEntries("deleted endpoint has no rows", 2, func(es map[MapKey]Verdict) error {
		if len(es) != 0 {
			return fmt.Errorf("%d rows left", len(es))
		}
		return nil
	})
	f.waitEntries("endpoint 1 unchanged", 1, allowsFrom(257, Allowed))

	// Deleting the policy opens the endpoint again.
	wtxn = f.db.WriteTxn(f.nps)
	f.nps.Delete(wtxn, np)
	wtxn.Commit()
	f.waitEntries("policy deleted: allow all", 1, allowsFrom(300, Allowed))
}
