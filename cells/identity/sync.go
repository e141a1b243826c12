package identity

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/hivenet/hivenet/cells/cell"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/statedb"
)

// syncer keeps the identities table equal to the reserved identities, the
// CiliumIdentity objects and the CIDR identities of the policies, and the
// pod-identities table equal to the identities of this node's pods,
// allocating missing ones. It recomputes on every change: a node holds at
// most hundreds of pods, and a full pass cannot miss a deletion.
type syncer struct {
	db     *statedb.DB
	ids    statedb.RWTable[*Identity]
	podIDs statedb.RWTable[*PodIdentity]

	pods       statedb.Table[*corev1.Pod]
	namespaces statedb.Table[*corev1.Namespace]
	crds       statedb.Table[*v2.CiliumIdentity]
	nps        statedb.Table[*networkingv1.NetworkPolicy]
	cnps       statedb.Table[*v2.CiliumNetworkPolicy]
	ccnps      statedb.Table[*v2.CiliumClusterwideNetworkPolicy]

	alloc *Allocator
	cidrs *CIDRAllocator
	log   *slog.Logger
	init  func(statedb.WriteTxn)
}

// tableView is a View over one snapshot of the identities table.
type tableView struct {
	txn statedb.ReadTxn
	tbl statedb.Table[*Identity]
}

func (v tableView) Find(l Labels) (ID, bool) {
	id, ok := Lookup(v.txn, v.tbl, l)
	if !ok {
		return 0, false
	}
	return id.ID, true
}

func (v tableView) Taken(id ID) bool {
	_, _, ok := v.tbl.Get(v.txn, ByID.Query(id))
	return ok
}

func (s *syncer) run(ctx context.Context, h cell.Health) error {
	initialised := false
	for {
		txn := s.db.ReadTxn()
		var watches []<-chan struct{}
		watch := func(w <-chan struct{}) { watches = append(watches, w) }

		// Identities first, so pods are looked up in the current set.
		desired := map[ID]*Identity{}
		for _, id := range Reserved() {
			desired[id.ID] = id
		}
		crds, w := s.crds.AllWatch(txn)
		watch(w)
		for o := range crds {
			if id, ok := FromCRD(o); ok {
				desired[id.ID] = id
			}
		}
		var prefixes []netip.Prefix
		nps, w := s.nps.AllWatch(txn)
		watch(w)
		for np := range nps {
			prefixes = NetworkPolicyCIDRs(prefixes, np)
		}
		cnps, w := s.cnps.AllWatch(txn)
		watch(w)
		for p := range cnps {
			for _, r := range p.Rules() {
				prefixes = RuleCIDRs(prefixes, &r)
			}
		}
		ccnps, w := s.ccnps.AllWatch(txn)
		watch(w)
		for p := range ccnps {
			for _, r := range p.Rules() {
				prefixes = RuleCIDRs(prefixes, &r)
			}
		}
		for _, id := range s.cidrs.Sync(prefixes) {
			desired[id.ID] = id
		}
		wtxn := s.db.WriteTxn(s.ids)
		if err := syncTable(wtxn, s.ids, desired, func(i *Identity) ID { return i.ID }); err != nil {
			wtxn.Abort()
			return err
		}
		txn = wtxn.Commit()
		view := tableView{txn: txn, tbl: s.ids}
		s.alloc.Forget(view)

		// Then this node's pods.
		nsLabels := map[string]map[string]string{}
		nss, w := s.namespaces.AllWatch(txn)
		watch(w)
		for ns := range nss {
			nsLabels[ns.Name] = ns.Labels
		}
		podIDs := map[string]*PodIdentity{}
		pods, w := s.pods.AllWatch(txn)
		watch(w)
		var failed error
		for pod := range pods {
			if pod.Spec.HostNetwork || pod.DeletionTimestamp != nil && pod.Status.PodIP == "" {
				continue
			}
			if _, ok := nsLabels[pod.Namespace]; !ok {
				// Without its namespace the label set is incomplete; the
				// namespaces table will wake us when it arrives.
				continue
			}
			l := PodLabels(pod.Labels, pod.Namespace, nsLabels[pod.Namespace], pod.Spec.ServiceAccountName)
			id, err := s.alloc.Allocate(ctx, view, l)
			if err != nil {
				failed = err
				s.log.Warn("Cannot allocate identity", "pod", pod.Namespace+"/"+pod.Name, "error", err)
				continue
			}
			key := pod.Namespace + "/" + pod.Name
			podIDs[key] = &PodIdentity{Pod: key, ID: id, Labels: l}
		}
		podsInit, _ := s.pods.Initialized(txn)
		nsInit, _ := s.namespaces.Initialized(txn)
		idsInit, _ := s.crds.Initialized(txn)

		wtxn = s.db.WriteTxn(s.podIDs)
		if err := syncTable(wtxn, s.podIDs, podIDs, func(p *PodIdentity) string { return p.Pod }); err != nil {
			wtxn.Abort()
			return err
		}
		if !initialised && podsInit && nsInit && idsInit && failed == nil {
			s.init(wtxn)
			initialised = true
		}
		wtxn.Commit()
		if failed != nil {
			h.Degraded("identity allocation failed", failed)
		} else {
			h.OK(fmt.Sprintf("%d identities, %d local pods", len(desired), len(podIDs)))
		}

		var retry <-chan struct{}
		if failed != nil || !initialised {
			retry = afterRetry()
		}
		if err := waitAny(ctx, retry, watches...); err != nil {
			return nil
		}
	}
}

// syncTable makes tbl hold exactly desired (by the key function), writing
// only rows that changed so followers see only real changes.
func syncTable[T any, K comparable](wtxn statedb.WriteTxn, tbl statedb.RWTable[T], desired map[K]T, key func(T) K) error {
	var stale []T
	for old := range tbl.All(wtxn) {
		if _, ok := desired[key(old)]; !ok {
			stale = append(stale, old)
		}
	}
	for _, old := range stale {
		if _, _, err := tbl.Delete(wtxn, old); err != nil {
			return err
		}
	}
	for k, obj := range desired {
		if old, _, ok := tbl.Get(wtxn, tbl.PrimaryIndexer().QueryFromObject(obj)); ok && key(old) == k && reflect.DeepEqual(old, obj) {
			continue
		}
		if _, _, err := tbl.Insert(wtxn, obj); err != nil {
			return err
		}
	}
	return nil
}
