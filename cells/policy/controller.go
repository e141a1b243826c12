package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/identity"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/statedb"
)

// controller feeds the Resolver from the input tables' changes and writes
// the resolved entries of the endpoints whose identity's policy changed.
type controller struct {
	db       *statedb.DB
	entries  statedb.RWTable[*Entry]
	statuses statedb.RWTable[*Status]
	nps      statedb.Table[*networkingv1.NetworkPolicy]
	cnps     statedb.Table[*v2.CiliumNetworkPolicy]
	ccnps    statedb.Table[*v2.CiliumClusterwideNetworkPolicy]
	ids      statedb.Table[*identity.Identity]
	eps      statedb.Table[*endpoints.Endpoint]
	ceps     statedb.Table[*v2.CiliumEndpoint]
	log      *slog.Logger
	initDone func(statedb.WriteTxn)

	r          *Resolver
	epIdentity map[uint16]identity.ID
	byIdentity map[identity.ID]map[uint16]struct{}
	cepPorts   map[string]cepNamedPorts
	// generations are the metadata.generation of each policy last parsed.
	generations map[string]int64
	// resolveTime observes each round's resolution, for the benchmark
	// of change-to-enforced latency.
	lastRound time.Duration
}

type cepNamedPorts struct {
	id    identity.ID
	ports map[string][]NamedPort
}

func (c *controller) run(ctx context.Context, h cell.Health) error {
	wtxn := c.db.WriteTxn(c.nps, c.cnps, c.ccnps, c.ids, c.eps, c.ceps)
	npCh, err1 := c.nps.Changes(wtxn)
	cnpCh, err2 := c.cnps.Changes(wtxn)
	ccnpCh, err3 := c.ccnps.Changes(wtxn)
	idCh, err4 := c.ids.Changes(wtxn)
	epCh, err5 := c.eps.Changes(wtxn)
	cepCh, err6 := c.ceps.Changes(wtxn)
	wtxn.Commit()
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		return err
	}
	defer func() {
		for _, it := range []interface{ Close() }{npCh, cnpCh, ccnpCh, idCh, epCh, cepCh} {
			it.Close()
		}
	}()
	initialised := false
	for {
		start := time.Now()
		txn := c.db.ReadTxn()
		var watches []<-chan struct{}
		dirtyEPs := map[uint16]struct{}{}
		var statusUpdates []*Status
		var statusDeletes []string

		setPolicy := func(name string, gen int64, deleted bool, parse func() (*Policy, error)) {
			if deleted {
				c.r.SetPolicy(name, nil)
				delete(c.generations, name)
				statusDeletes = append(statusDeletes, name)
				return
			}
			if g, ok := c.generations[name]; ok && g == gen && gen != 0 {
				return // a status or metadata update: the spec is the same
			}
			c.generations[name] = gen
			p, err := parse()
			if err != nil {
				// Never half-applied: the last valid version (if any)
				// stays enforced, and no other policy is touched.
				_, enforcing := c.r.policies[name]
				c.log.Warn("Policy rejected", "policy", name, "error", err)
				statusUpdates = append(statusUpdates, &Status{Name: name, Error: err.Error(), Enforcing: enforcing})
				return
			}
			c.r.SetPolicy(name, p)
			statusUpdates = append(statusUpdates, &Status{Name: name, Valid: true, Rules: len(p.Rules), Enforcing: true})
		}
		seq, w := npCh.Next(txn)
		watches = append(watches, w)
		for ch := range seq {
			np := ch.Object
			setPolicy("NetworkPolicy "+np.Namespace+"/"+np.Name, np.Generation, ch.Deleted, func() (*Policy, error) { return FromNetworkPolicy(np) })
		}
		cseq, w := cnpCh.Next(txn)
		watches = append(watches, w)
		for ch := range cseq {
			p := ch.Object
			setPolicy("CiliumNetworkPolicy "+p.Namespace+"/"+p.Name, p.Generation, ch.Deleted, func() (*Policy, error) { return FromCiliumNetworkPolicy(p) })
		}
		ccseq, w := ccnpCh.Next(txn)
		watches = append(watches, w)
		for ch := range ccseq {
			p := ch.Object
			setPolicy("CiliumClusterwideNetworkPolicy "+p.Name, p.Generation, ch.Deleted, func() (*Policy, error) { return FromCiliumClusterwideNetworkPolicy(p) })
		}
		iseq, w := idCh.Next(txn)
		watches = append(watches, w)
		for ch := range iseq {
			if ch.Deleted {
				c.r.DeleteIdentity(ch.Object.ID)
			} else {
				c.r.UpsertIdentity(ch.Object)
			}
		}
		cepSeq, w := cepCh.Next(txn)
		watches = append(watches, w)
		for ch := range cepSeq {
			c.updateNamedPorts(ch.Object, ch.Deleted)
		}
		eseq, w := epCh.Next(txn)
		watches = append(watches, w)
		for ch := range eseq {
			ep := ch.Object
			old, had := c.epIdentity[ep.ID]
			if ch.Deleted || had && old != ep.Identity {
				if had {
					c.r.RemoveSubject(old)
					delete(c.byIdentity[old], ep.ID)
					delete(c.epIdentity, ep.ID)
				}
				dirtyEPs[ep.ID] = struct{}{}
			}
			if !ch.Deleted && ep.Identity != 0 && (!had || old != ep.Identity) {
				c.epIdentity[ep.ID] = ep.Identity
				if c.byIdentity[ep.Identity] == nil {
					c.byIdentity[ep.Identity] = map[uint16]struct{}{}
				}
				c.byIdentity[ep.Identity][ep.ID] = struct{}{}
				c.r.AddSubject(ep.Identity)
				dirtyEPs[ep.ID] = struct{}{}
			}
		}
		for _, id := range c.r.Resolve() {
			for ep := range c.byIdentity[id] {
				dirtyEPs[ep] = struct{}{}
			}
		}

		wtxn := c.db.WriteTxn(c.entries, c.statuses)
		written := 0
		for ep := range dirtyEPs {
			n, err := c.writeEndpoint(wtxn, ep)
			if err != nil {
				wtxn.Abort()
				return err
			}
			written += n
		}
		for _, s := range statusUpdates {
			if _, _, err := c.statuses.Insert(wtxn, s); err != nil {
				wtxn.Abort()
				return err
			}
		}
		for _, name := range statusDeletes {
			if _, _, err := c.statuses.Delete(wtxn, &Status{Name: name}); err != nil {
				wtxn.Abort()
				return err
			}
		}
		if !initialised {
			ready := true
			for _, t := range []statedb.TableMeta{c.nps, c.cnps, c.ccnps, c.ids, c.eps, c.ceps} {
				if ok, w := t.Initialized(txn); !ok {
					ready = false
					watches = append(watches, w)
				}
			}
			if ready {
				c.initDone(wtxn)
				initialised = true
			}
		}
		wtxn.Commit()
		c.lastRound = time.Since(start)
		if len(dirtyEPs) > 0 {
			c.log.Debug("Policy entries updated", "endpoints", len(dirtyEPs), "entries", written, "duration", c.lastRound)
		}
		invalid := 0
		for s := range c.statuses.All(c.db.ReadTxn()) {
			if !s.Valid {
				invalid++
			}
		}
		if invalid > 0 {
			h.Degraded(fmt.Sprintf("%d policies rejected (hivenet policy get)", invalid), errors.New("invalid policies"))
		} else {
			h.OK(fmt.Sprintf("%d policies, %d endpoints", len(c.r.policies), len(c.epIdentity)))
		}
		if err := waitAny(ctx, watches...); err != nil {
			return nil
		}
	}
}

func (c *controller) updateNamedPorts(cep *v2.CiliumEndpoint, deleted bool) {
	key := cep.Namespace + "/" + cep.Name
	old, had := c.cepPorts[key]
	delete(c.cepPorts, key)
	var id identity.ID
	if !deleted && cep.Status.Identity != nil && len(cep.Status.NamedPorts) > 0 {
		id = identity.ID(cep.Status.Identity.ID)
		ports := map[string][]NamedPort{}
		for _, np := range cep.Status.NamedPorts {
			proto := map[string]uint8{"TCP": ProtoTCP, "UDP": ProtoUDP, "SCTP": ProtoSCTP}[np.Protocol]
			if proto != 0 && np.Port != 0 {
				ports[np.Name] = append(ports[np.Name], NamedPort{Proto: proto, Port: np.Port})
			}
		}
		c.cepPorts[key] = cepNamedPorts{id: id, ports: ports}
	}
	var affected []identity.ID
	if had {
		affected = append(affected, old.id)
	}
	if id != 0 && id != old.id {
		affected = append(affected, id)
	}
	for _, affected := range affected {
		union := map[string][]NamedPort{}
		for _, cp := range c.cepPorts {
			if cp.id != affected {
				continue
			}
			for n, ps := range cp.ports {
				for _, p := range ps {
					if !slices.Contains(union[n], p) {
						union[n] = append(union[n], p)
					}
				}
			}
		}
		if !reflect.DeepEqual(c.r.namedPorts[affected], union) {
			c.r.SetNamedPorts(affected, union)
		}
	}
}

// writeEndpoint makes the endpoint's rows equal to its identity's result.
func (c *controller) writeEndpoint(wtxn statedb.WriteTxn, ep uint16) (int, error) {
	var want map[MapKey]Verdict
	if id, ok := c.epIdentity[ep]; ok {
		if res, ok := c.r.Result(id); ok {
			want = res.Entries
		}
	}
	written := 0
	var stale []*Entry
	for old := range c.entries.List(wtxn, EntryByEndpoint.Query(ep)) {
		if _, ok := want[old.Key]; !ok {
			stale = append(stale, old)
		}
	}
	for _, old := range stale {
		if _, _, err := c.entries.Delete(wtxn, old); err != nil {
			return written, err
		}
	}
	for k, v := range want {
		if old, _, ok := c.entries.Get(wtxn, EntryByKey.Query(entryKey(ep, k))); ok && reflect.DeepEqual(old.Verdict, v) {
			continue
		}
		if _, _, err := c.entries.Insert(wtxn, &Entry{Endpoint: ep, Key: k, Verdict: v, Status: reconcilers.StatusPending()}); err != nil {
			return written, err
		}
		written++
	}
	return written, nil
}
