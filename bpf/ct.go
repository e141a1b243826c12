package bpf

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// CTRecord is one conntrack entry as listed by `hivenet bpf ct list`.
type CTRecord struct {
	Map   string // cilium_ct4_global or cilium_ct_any4_global
	Key   CTKey
	Entry CTEntry
	// Remaining is the entry's lifetime left in seconds when it was
	// listed; negative once expired (an LRU map keeps expired entries
	// until it needs their space or a packet replaces them).
	Remaining int64
}

// Conntrack lists d's conntrack entries, TCP first, sorted by tuple.
func (d *Datapath) Conntrack() ([]CTRecord, error) {
	return listCT(map[string]*ebpf.Map{
		MapCT4Global:    d.objs.CiliumCt4Global,
		MapCTAny4Global: d.objs.CiliumCtAny4Global,
	})
}

// DumpConntrack lists the conntrack entries pinned under a bpf root, for
// a process other than the agent (the CLI).
func DumpConntrack(root string) ([]CTRecord, error) {
	maps := map[string]*ebpf.Map{}
	for _, name := range []string{MapCT4Global, MapCTAny4Global} {
		m, err := ebpf.LoadPinnedMap(MapPinPath(root, name), &ebpf.LoadPinOptions{ReadOnly: true})
		if err != nil {
			for _, m := range maps {
				m.Close()
			}
			return nil, fmt.Errorf("open conntrack map %s (is the agent's bpf-root %s?): %w", name, root, err)
		}
		maps[name] = m
	}
	defer func() {
		for _, m := range maps {
			m.Close()
		}
	}()
	return listCT(maps)
}

// monoSeconds is the clock of conntrack lifetimes: CLOCK_MONOTONIC in
// seconds, as the programs read it with bpf_ktime_get_ns.
func monoSeconds() (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, fmt.Errorf("read monotonic clock: %w", err)
	}
	return ts.Sec, nil
}

// GarbageCollectConntrack deletes the conntrack entries whose lifetime has
// passed and returns how many it deleted. The maps are LRU and the programs
// replace expired entries they meet, so this only keeps listings short and
// the maps' room for live connections; the agent runs it periodically.
// An entry refreshed by a packet between the check and the delete is kept:
// it is looked up again right before deleting.
func (d *Datapath) GarbageCollectConntrack() (int, error) {
	deleted := 0
	for _, m := range []*ebpf.Map{d.objs.CiliumCt4Global, d.objs.CiliumCtAny4Global} {
		now, err := monoSeconds()
		if err != nil {
			return deleted, err
		}
		var (
			key     CTKey
			entry   CTEntry
			expired []CTKey
		)
		it := m.Iterate()
		for it.Next(&key, &entry) {
			if int64(entry.Lifetime) < now {
				expired = append(expired, key)
			}
		}
		if err := it.Err(); err != nil && !errors.Is(err, ebpf.ErrIterationAborted) {
			return deleted, fmt.Errorf("walk conntrack map: %w", err)
		}
		for _, k := range expired {
			if err := m.Lookup(&k, &entry); err != nil || int64(entry.Lifetime) >= now {
				continue
			}
			if err := m.Delete(&k); err == nil {
				deleted++
			} else if !errors.Is(err, ebpf.ErrKeyNotExist) {
				return deleted, fmt.Errorf("delete expired conntrack entry: %w", err)
			}
		}
	}
	return deleted, nil
}

func listCT(maps map[string]*ebpf.Map) ([]CTRecord, error) {
	now, err := monoSeconds()
	if err != nil {
		return nil, err
	}
	var out []CTRecord
	for _, name := range []string{MapCT4Global, MapCTAny4Global} {
		var (
			key   CTKey
			entry CTEntry
		)
		it := maps[name].Iterate()
		for it.Next(&key, &entry) {
			out = append(out, CTRecord{Map: name, Key: key, Entry: entry, Remaining: int64(entry.Lifetime) - now})
		}
		if err := it.Err(); err != nil && !errors.Is(err, ebpf.ErrIterationAborted) {
			return nil, fmt.Errorf("list %s: %w", name, err)
		}
	}
	slices.SortStableFunc(out, func(a, b CTRecord) int {
		return cmp.Or(
			cmp.Compare(a.Map, b.Map)*-1, // ct4 (TCP) before ct_any4
			a.Key.Src().Compare(b.Key.Src()),
			a.Key.Dst().Compare(b.Key.Dst()),
			cmp.Compare(a.Key.Nexthdr, b.Key.Nexthdr),
			cmp.Compare(a.Key.Flags, b.Key.Flags),
		)
	})
	return out, nil
}

var ctFlagNames = []struct {
	f uint16
	s string
}{
	{CTRxClosing, "RxClosing"}, {CTTxClosing, "TxClosing"}, {CTLBLoopback, "LBLoopback"},
	{CTSeenNonSyn, "SeenNonSyn"}, {CTNodePort, "NodePort"}, {CTProxyRedirect, "ProxyRedirect"},
	{CTDSRInternal, "DSRInternal"}, {CTFromL7LB, "FromL7LB"}, {CTFromTunnel, "FromTunnel"},
}

// String formats r as a row of `cilium-dbg bpf ct list global`:
//
//	TCP OUT 10.0.0.1:41000 -> 10.0.0.2:80 expires=17224 (remaining: 21590 sec(s)) Packets=4 Bytes=296 RxFlagsSeen=0x12 LastRxReport=1634 TxFlagsSeen=0x12 LastTxReport=1634 Flags=0x0010 [ SeenNonSyn ] RevNAT=0 SourceSecurityID=0 IfIndex=5 BackendID=0
func (r CTRecord) String() string {
	var b strings.Builder
	dir := "OUT"
	if r.Key.Flags&TupleIn != 0 {
		dir = "IN"
	}
	if r.Key.Flags&TupleRelated != 0 {
		dir += " RELATED"
	}
	if r.Key.Flags&TupleService != 0 {
		dir = "SVC"
	}
	proto := ProtoName(r.Key.Nexthdr)
	if r.Key.Nexthdr == ProtoICMP {
		proto = "ICMP"
	}
	e := r.Entry
	fmt.Fprintf(&b, "%s %s %s -> %s expires=%d (remaining: %d sec(s)) Packets=%d Bytes=%d RxFlagsSeen=0x%02x LastRxReport=%d TxFlagsSeen=0x%02x LastTxReport=%d Flags=0x%04x [",
		proto, dir, r.Key.Src(), r.Key.Dst(), e.Lifetime, r.Remaining, e.Packets, e.Bytes,
		e.RxFlagsSeen, e.LastRxReport, e.TxFlagsSeen, e.LastTxReport, e.Flags)
	for _, n := range ctFlagNames {
		if e.Flags&n.f != 0 {
			b.WriteString(" " + n.s)
		}
	}
	fmt.Fprintf(&b, " ] RevNAT=%d SourceSecurityID=%d IfIndex=%d BackendID=%d",
		e.RevNatIndex, e.SrcSecId, e.Ifindex, e.BackendId)
	return b.String()
}
