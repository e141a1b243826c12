package services

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/netip"

	"github.com/cilium/ebpf"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/reconcilers/bpfmap"
)

// lbMaps are the pinned load-balancer maps the frontends are reconciled
// into.
type lbMaps struct {
	services   *bpfmap.Map[bpf.LB4Key, bpf.LB4Service]
	backends   *bpfmap.Map[uint32, bpf.LB4Backend]
	reverseNAT *bpfmap.Map[uint16, bpf.LB4ReverseNAT]
	maglev     *bpfmap.Map[uint16, bpf.LB4Maglev]
}

// openLBMaps opens (adopting) the maps pinned in pinDir with the layout the
// datapath declares, so they are the maps its programs use.
func openLBMaps(pinDir string, maxEntries int, log *slog.Logger) (*lbMaps, error) {
	spec := func(name string) bpfmap.Spec {
		return bpfmap.Spec{Name: name, Type: ebpf.Hash, MaxEntries: uint32(maxEntries), Flags: bpf.LBMapFlags(), PinDir: pinDir}
	}
	m := &lbMaps{}
	var err error
	if m.services, err = bpfmap.New[bpf.LB4Key, bpf.LB4Service](spec(bpf.MapLB4Services), log); err != nil {
		return nil, err
	}
	if m.backends, err = bpfmap.New[uint32, bpf.LB4Backend](spec(bpf.MapLB4Backends), log); err != nil {
		return nil, err
	}
	if m.reverseNAT, err = bpfmap.New[uint16, bpf.LB4ReverseNAT](spec(bpf.MapLB4ReverseNAT), log); err != nil {
		return nil, err
	}
	if m.maglev, err = bpfmap.New[uint16, bpf.LB4Maglev](spec(bpf.MapLB4Maglev), log); err != nil {
		return nil, err
	}
	for _, open := range []func() error{m.services.Open, m.backends.Open, m.reverseNAT.Open, m.maglev.Open} {
		if err := open(); err != nil {
			m.close()
			return nil, err
		}
	}
	return m, nil
}

func (m *lbMaps) close() {
	m.services.Close()
	m.backends.Close()
	m.reverseNAT.Close()
	m.maglev.Close()
}

// lbOps writes frontends into the maps. The order of writes keeps the
// datapath consistent at every step: backends before the slots naming them,
// slots before slot 0 counts them, and a backend entry is deleted only
// after no slot of any frontend names it.
//
// It remembers what it wrote per frontend (slot count, backend ids) to
// delete what a new version no longer needs. That memory is empty after a
// restart; Prune then removes what the previous agent left behind.
type lbOps struct {
	maps   *lbMaps
	maglev bool

	written map[L3n4Addr]writtenFrontend
	refs    map[uint32]int // backend id -> frontends using it

	// scratch, reused across updates
	keys    []bpf.LB4Key
	vals    []bpf.LB4Service
	beKeys  []uint32
	beVals  []bpf.LB4Backend
	delKeys []bpf.LB4Key
}

type writtenFrontend struct {
	slots    int
	backends []uint32
}

var _ reconcilers.Operations[*Frontend] = (*lbOps)(nil)

func newLBOps(maps *lbMaps, maglev bool) *lbOps {
	return &lbOps{maps: maps, maglev: maglev, written: map[L3n4Addr]writtenFrontend{}, refs: map[uint32]int{}}
}

func masterKey(fe *Frontend) bpf.LB4Key {
	return bpf.NewLB4Key(fe.Address.AddrPort(), fe.Address.Proto, 0)
}

func collect(errs *[]error) func(int, error) {
	return func(_ int, err error) {
		if len(*errs) < 3 {
			*errs = append(*errs, err)
		}
	}
}

// Update writes fe: its backends, its slots, its reverse NAT and Maglev
// entries, then slot 0.
func (o *lbOps) Update(_ context.Context, fe *Frontend) error {
	var errs []error
	o.beKeys, o.beVals = o.beKeys[:0], o.beVals[:0]
	ids := make([]uint32, 0, len(fe.Backends))
	for _, b := range fe.Backends {
		o.beKeys = append(o.beKeys, b.ID)
		o.beVals = append(o.beVals, bpf.NewLB4Backend(b.Address.AddrPort(), b.Address.Proto, uint8(b.State)))
		ids = append(ids, b.ID)
	}
	o.maps.backends.UpdateBatch(o.beKeys, o.beVals, collect(&errs))

	slots := fe.Slots()
	fk := fe.Address.AddrPort()
	o.keys, o.vals = o.keys[:0], o.vals[:0]
	for i, b := range slots {
		o.keys = append(o.keys, bpf.NewLB4Key(fk, fe.Address.Proto, uint16(i+1)))
		o.vals = append(o.vals, bpf.LB4Service{BackendId: b.ID, RevNatIndex: fe.ID})
	}
	o.maps.services.UpdateBatch(o.keys, o.vals, collect(&errs))
	if err := o.maps.reverseNAT.Update(fe.ID, bpf.NewLB4ReverseNAT(fk)); err != nil {
		errs = append(errs, err)
	}
	if o.maglev {
		if err := o.maps.maglev.Update(fe.ID, *maglevTable(slots)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// Slot 0 is not written: the datapath keeps serving the previous
		// version, whose slots are untouched below its count.
		return fmt.Errorf("frontend %s: %w", fe.Address, errors.Join(errs...))
	}
	master := bpf.LB4Service{
		Count:       uint16(len(slots)),
		RevNatIndex: fe.ID,
		Flags:       fe.Flags,
		Flags2:      fe.Flags2,
	}
	if fe.Flags&bpf.SvcFlagAffinity != 0 {
		master.BackendId = fe.AffinityTimeout
	}
	if err := o.maps.services.Update(masterKey(fe), master); err != nil {
		return fmt.Errorf("frontend %s: %w", fe.Address, err)
	}

	prev := o.written[fe.Address]
	o.deleteSlots(fk, fe.Address.Proto, len(slots)+1, prev.slots)
	for _, id := range ids {
		o.refs[id]++
	}
	o.release(prev.backends)
	o.written[fe.Address] = writtenFrontend{slots: len(slots), backends: ids}
	return nil
}

func (o *lbOps) deleteSlots(fk netip.AddrPort, proto uint8, from, to int) {
	o.delKeys = o.delKeys[:0]
	for s := from; s <= to; s++ {
		o.delKeys = append(o.delKeys, bpf.NewLB4Key(fk, proto, uint16(s)))
	}
	// A slot beyond the count is never read: failing to delete it costs
	// memory until the next prune, not correctness.
	o.maps.services.DeleteBatch(o.delKeys, func(int, error) {})
}

// release drops one reference to each id and deletes the backends no
// frontend uses any more.
func (o *lbOps) release(ids []uint32) {
	var gone []uint32
	for _, id := range ids {
		if o.refs[id]--; o.refs[id] <= 0 {
			delete(o.refs, id)
			gone = append(gone, id)
		}
	}
	o.maps.backends.DeleteBatch(gone, func(int, error) {})
}

// Delete removes fe: slot 0 first, so the datapath stops using the rest.
func (o *lbOps) Delete(_ context.Context, fe *Frontend) error {
	if err := o.maps.services.Delete(masterKey(fe)); err != nil {
		return fmt.Errorf("frontend %s: %w", fe.Address, err)
	}
	prev, ok := o.written[fe.Address]
	if !ok {
		prev.slots = len(fe.Backends)
	}
	o.deleteSlots(fe.Address.AddrPort(), fe.Address.Proto, 1, max(prev.slots, len(fe.Backends)))
	var errs []error
	if err := o.maps.reverseNAT.Delete(fe.ID); err != nil {
		errs = append(errs, err)
	}
	if err := o.maps.maglev.Delete(fe.ID); err != nil {
		errs = append(errs, err)
	}
	o.release(prev.backends)
	delete(o.written, fe.Address)
	return errors.Join(errs...)
}

// Prune removes every entry no frontend asks for: frontends, slots beyond
// a frontend's count, backends, reverse NAT and Maglev entries.
func (o *lbOps) Prune(_ context.Context, objects iter.Seq[*Frontend]) error {
	slots := map[bpf.LB4Key]struct{}{}
	backends := map[uint32]struct{}{}
	ids := map[uint16]struct{}{}
	for fe := range objects {
		fk := fe.Address.AddrPort()
		n := len(fe.Slots())
		for s := 0; s <= n; s++ {
			slots[bpf.NewLB4Key(fk, fe.Address.Proto, uint16(s))] = struct{}{}
		}
		for _, b := range fe.Backends {
			backends[b.ID] = struct{}{}
		}
		ids[fe.ID] = struct{}{}
	}
	var errs []error
	errs = append(errs, pruneMap(o.maps.services, func(k bpf.LB4Key) bool { _, ok := slots[k]; return ok }))
	errs = append(errs, pruneMap(o.maps.backends, func(k uint32) bool { _, ok := backends[k]; return ok }))
	errs = append(errs, pruneMap(o.maps.reverseNAT, func(k uint16) bool { _, ok := ids[k]; return ok }))
	if o.maglev {
		errs = append(errs, pruneMap(o.maps.maglev, func(k uint16) bool { _, ok := ids[k]; return ok }))
	} else {
		errs = append(errs, pruneMap(o.maps.maglev, func(uint16) bool { return false }))
	}
	return errors.Join(errs...)
}

func pruneMap[K comparable, V any](m *bpfmap.Map[K, V], wanted func(K) bool) error {
	var stale []K
	err := m.Walk(func(keys []K, _ []V) error {
		for _, k := range keys {
			if !wanted(k) {
				stale = append(stale, k)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("prune %s: %w", m.Spec().Name, err)
	}
	var errs []error
	m.DeleteBatch(stale, collect(&errs))
	if len(errs) > 0 {
		return fmt.Errorf("prune %s: %w", m.Spec().Name, errors.Join(errs...))
	}
	return nil
}

// restoreIDs seeds the allocators with the ids the maps hold, so frontends
// and backends keep their ids across an agent restart.
func restoreIDs(m *lbMaps, fes *idAllocator[uint16], bes *idAllocator[uint32]) error {
	err := m.services.Walk(func(keys []bpf.LB4Key, vals []bpf.LB4Service) error {
		for i, k := range keys {
			if k.BackendSlot != 0 {
				continue
			}
			fe := k.Frontend()
			fes.restore(L3n4Addr{Addr: fe.Addr(), Port: fe.Port(), Proto: k.Proto}, vals[i].RevNatIndex)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore frontend ids: %w", err)
	}
	err = m.backends.Walk(func(keys []uint32, vals []bpf.LB4Backend) error {
		for i, id := range keys {
			ap := vals[i].AddrPort()
			bes.restore(L3n4Addr{Addr: ap.Addr(), Port: ap.Port(), Proto: vals[i].Proto}, id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore backend ids: %w", err)
	}
	return nil
}
