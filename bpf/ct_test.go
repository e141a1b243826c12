package bpf

import (
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
)

func TestGarbageCollectConntrack(t *testing.T) {
	n := newTestNode(t)
	d, err := Load(n.config(), nil)
	must(t, err)
	defer d.Close()
	now, err := monoSeconds()
	must(t, err)

	src, dst := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80")
	live := NewCTKey(src, dst, ProtoTCP, TupleOut)
	for _, e := range []struct {
		m        *ebpf.Map
		key      CTKey
		lifetime int64
	}{
		{d.objs.CiliumCt4Global, live, now + 100},
		{d.objs.CiliumCt4Global, NewCTKey(src, dst, ProtoTCP, TupleIn), now - 1},
		{d.objs.CiliumCtAny4Global, NewCTKey(src, dst, ProtoUDP, TupleOut), now - 30},
	} {
		entry := CTEntry{Lifetime: uint32(e.lifetime)}
		must(t, e.m.Put(&e.key, &entry))
	}

	deleted, err := d.GarbageCollectConntrack()
	must(t, err)
	if deleted != 2 {
		t.Errorf("deleted %d entries, want the 2 expired ones", deleted)
	}
	recs, err := d.Conntrack()
	must(t, err)
	if len(recs) != 1 || recs[0].Key != live || recs[0].Remaining < 99 {
		t.Errorf("left %v, want only the live entry with ~100s remaining", recs)
	}

	// The CLI's path: the pinned maps, from outside the agent.
	pinned, err := DumpConntrack(n.root)
	must(t, err)
	if len(pinned) != 1 || pinned[0].Key != recs[0].Key || pinned[0].Entry != recs[0].Entry {
		t.Errorf("DumpConntrack %v, want %v", pinned, recs)
	}
}
