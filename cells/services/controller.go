package services

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/hivenet/hivenet/cells/k8s"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/statedb"
)

// controller derives the services, backends and frontends tables from the
// k8s-services and k8s-endpointslices tables, incrementally: a change to a
// Service or one of its EndpointSlices recomputes that Service only.
type controller struct {
	db      *statedb.DB
	tables  Tables
	k8sSvcs statedb.Table[*corev1.Service]
	k8sEps  statedb.Table[*discoveryv1.EndpointSlice]
	node    string
	log     *slog.Logger

	feIDs *idAllocator[uint16]
	beIDs *idAllocator[uint32]

	// backendsOf remembers the backend addresses each service put in the
	// backends table, to take it out of those it no longer has. A map here
	// rather than an index on the table: at 10k services of 10 backends
	// the index cost a fifth of the table's memory and insert time.
	backendsOf map[ServiceName][]L3n4Addr

	// initDone marks the frontends table initialised: called once both
	// k8s tables are and their initial contents are derived, so the
	// reconciler prunes the maps only then.
	initDone func(statedb.WriteTxn)
}

// batchSize bounds how many services one write transaction recomputes, so a
// flood of changes does not hold the tables' locks for long.
const batchSize = 1000

var svcNameIndex = k8s.NameIndex[*corev1.Service]()

func newController(db *statedb.DB, t Tables, svcs statedb.Table[*corev1.Service], eps statedb.Table[*discoveryv1.EndpointSlice], node string, log *slog.Logger) *controller {
	wtxn := db.WriteTxn(t.Frontends)
	done := t.Frontends.RegisterInitializer(wtxn, "k8s-services")
	wtxn.Commit()
	return &controller{
		db: db, tables: t, k8sSvcs: svcs, k8sEps: eps, node: node, log: log,
		backendsOf: map[ServiceName][]L3n4Addr{},
		feIDs:      newIDAllocator[uint16]("frontend", maxFrontendID),
		beIDs:      newIDAllocator[uint32]("backend", maxBackendID),
		initDone:   done,
	}
}

// health is what run reports to.
type health interface {
	OK(msg string)
	Degraded(msg string, err error)
}

func (c *controller) run(ctx context.Context, h health) error {
	wtxn := c.db.WriteTxn(c.k8sSvcs, c.k8sEps)
	svcChanges, err := c.k8sSvcs.Changes(wtxn)
	if err != nil {
		wtxn.Abort()
		return err
	}
	defer svcChanges.Close()
	epChanges, err := c.k8sEps.Changes(wtxn)
	if err != nil {
		wtxn.Abort()
		return err
	}
	defer epChanges.Close()
	wtxn.Commit()

	initialized := false
	for {
		txn := c.db.ReadTxn()
		dirty := map[ServiceName]struct{}{}
		changes, svcWatch := svcChanges.Next(txn)
		for ch := range changes {
			dirty[ServiceName{Namespace: ch.Object.Namespace, Name: ch.Object.Name}] = struct{}{}
		}
		changes2, epWatch := epChanges.Next(txn)
		for ch := range changes2 {
			if svc := ch.Object.Labels[discoveryv1.LabelServiceName]; svc != "" {
				dirty[ServiceName{Namespace: ch.Object.Namespace, Name: svc}] = struct{}{}
			}
		}
		if err := c.apply(dirty); err != nil {
			h.Degraded("deriving load-balancer state", err)
		} else if initialized {
			h.OK(fmt.Sprintf("%d frontends, %d backends", c.feIDs.len(), c.beIDs.len()))
		}

		var initWatch <-chan struct{}
		if !initialized {
			ok1, w1 := c.k8sSvcs.Initialized(txn)
			ok2, w2 := c.k8sEps.Initialized(txn)
			switch {
			case ok1 && ok2:
				wtxn := c.db.WriteTxn(c.tables.Frontends)
				c.initDone(wtxn)
				wtxn.Commit()
				initialized = true
				h.OK(fmt.Sprintf("initial services derived: %d frontends, %d backends", c.feIDs.len(), c.beIDs.len()))
			case !ok1:
				initWatch = w1
			default:
				initWatch = w2
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-svcWatch:
		case <-epWatch:
		case <-initWatch:
		}
	}
}

// apply recomputes the dirty services, batchSize per transaction.
func (c *controller) apply(dirty map[ServiceName]struct{}) error {
	if len(dirty) == 0 {
		return nil
	}
	names := make([]ServiceName, 0, len(dirty))
	for n := range dirty {
		names = append(names, n)
	}
	var firstErr error
	for chunk := range slices.Chunk(names, batchSize) {
		wtxn := c.db.WriteTxn(c.tables.Frontends, c.tables.Backends, c.tables.Services)
		for _, n := range chunk {
			if err := c.recompute(wtxn, n); err != nil {
				c.log.Warn("Cannot load-balance service", "service", n, "error", err)
				if firstErr == nil {
					firstErr = err
				}
			}
		}
		wtxn.Commit()
	}
	return firstErr
}

// recompute brings the tables' rows of service name in line with its
// Service and EndpointSlices as wtxn sees them.
func (c *controller) recompute(wtxn statedb.WriteTxn, name ServiceName) error {
	key := k8s.Key{Namespace: name.Namespace, Name: name.Name}
	var d *derived
	if svc, _, found := c.k8sSvcs.Get(wtxn, svcNameIndex.Query(key)); found {
		var eps []*discoveryv1.EndpointSlice
		for s := range c.k8sEps.List(wtxn, k8s.EndpointSliceServiceIndex.Query(key)) {
			eps = append(eps, s)
		}
		d = derive(svc, eps, c.node)
	}
	if d == nil {
		d = &derived{}
		if _, _, err := c.tables.Services.Delete(wtxn, &Service{Name: name}); err != nil {
			return err
		}
	} else if old, _, ok := c.tables.Services.Get(wtxn, ServiceNameIndex.Query(name)); !ok || *old != *d.service {
		if _, _, err := c.tables.Services.Insert(wtxn, d.service); err != nil {
			return err
		}
	}
	if err := c.updateBackends(wtxn, name, d.backends); err != nil {
		return err
	}
	return c.updateFrontends(wtxn, name, d.frontends)
}

func (c *controller) updateBackends(wtxn statedb.WriteTxn, name ServiceName, bes []*Backend) error {
	wanted := make(map[L3n4Addr]*Backend, len(bes))
	for _, b := range bes {
		wanted[b.Address] = b
	}
	var stale []*Backend
	for _, addr := range c.backendsOf[name] {
		if _, ok := wanted[addr]; ok {
			continue
		}
		if old, _, found := c.tables.Backends.Get(wtxn, BackendAddressIndex.Query(addr)); found {
			stale = append(stale, old)
		}
	}
	if len(bes) == 0 {
		delete(c.backendsOf, name)
	} else {
		addrs := make([]L3n4Addr, len(bes))
		for i, b := range bes {
			addrs[i] = b.Address
		}
		c.backendsOf[name] = addrs
	}
	for _, old := range stale {
		b := *old
		b.Services = slices.DeleteFunc(slices.Clone(old.Services), func(n ServiceName) bool { return n == name })
		if len(b.Services) == 0 {
			c.tables.Backends.Delete(wtxn, old)
			c.beIDs.release(old.Address)
			continue
		}
		c.tables.Backends.Insert(wtxn, &b)
	}
	for _, b := range bes {
		old, _, found := c.tables.Backends.Get(wtxn, BackendAddressIndex.Query(b.Address))
		if found {
			if old.State == b.State && old.NodeName == b.NodeName && old.Zone == b.Zone && slices.Contains(old.Services, name) {
				continue
			}
			b.ID = old.ID
			b.Services = old.Services
			if !slices.Contains(b.Services, name) {
				b.Services = append(slices.Clone(b.Services), name)
				slices.SortFunc(b.Services, func(x, y ServiceName) int { return compareStrings(x.String(), y.String()) })
			}
		} else {
			id, err := c.beIDs.acquire(b.Address)
			if err != nil {
				return err
			}
			b.ID = id
		}
		if _, _, err := c.tables.Backends.Insert(wtxn, b); err != nil {
			return err
		}
	}
	return nil
}

func (c *controller) updateFrontends(wtxn statedb.WriteTxn, name ServiceName, fes []*Frontend) error {
	old := map[L3n4Addr]*Frontend{}
	for fe := range c.tables.Frontends.List(wtxn, FrontendServiceIndex.Query(name)) {
		old[fe.Address] = fe
	}
	for _, fe := range fes {
		id, err := c.feIDs.acquire(fe.Address)
		if err != nil {
			return err
		}
		fe.ID = id
		for i := range fe.Backends {
			bid, err := c.beIDs.acquire(fe.Backends[i].Address)
			if err != nil {
				return err
			}
			fe.Backends[i].ID = bid
		}
		prev, ok := old[fe.Address]
		delete(old, fe.Address)
		if ok && prev.sameAs(fe) {
			continue
		}
		fe.Status = reconcilers.StatusPending()
		if _, _, err := c.tables.Frontends.Insert(wtxn, fe); err != nil {
			return err
		}
	}
	for _, fe := range old {
		if _, _, err := c.tables.Frontends.Delete(wtxn, fe); err != nil {
			return err
		}
		c.feIDs.release(fe.Address)
	}
	return nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
