package policy

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"

	"github.com/hivenet/hivenet/reconcilers/bpfmap"
)

// Map names. Each endpoint has its own policy map, pinned as
// cilium_policy_v2_<id, 5 digits> like Cilium's; the datapath finds it
// through the hash-of-maps OuterMapName, keyed by endpoint id.
const (
	MapPrefix    = "cilium_policy_v2_"
	OuterMapName = "cilium_policy_eps"
	// MapMaxEntries is the size of each endpoint's map (Cilium's
	// bpf-policy-map-max default).
	MapMaxEntries = 16384
	// OuterMaxEntries bounds the endpoints per node.
	OuterMaxEntries = 65536
)

// MapName returns the pin name of an endpoint's policy map.
func MapName(ep uint16) string { return fmt.Sprintf("%s%05d", MapPrefix, ep) }

// BPFKey is Cilium's struct policy_key: an LPM key whose prefix always
// covers identity and direction and optionally protocol and the port's
// high bits (the port is in network byte order).
type BPFKey struct {
	Prefixlen uint32
	Identity  uint32
	Egress    uint8
	Proto     uint8
	DPort     uint16
}

// BPFValue is struct policy_entry: flags (bit 0 deny), the policy cookie
// naming the policy for verdict events, and per-entry counters.
type BPFValue struct {
	ProxyPort uint16
	Flags     uint8
	AuthType  uint8
	Cookie    uint32
	Packets   uint64
	Bytes     uint64
}

// FlagDeny marks a deny entry.
const FlagDeny uint8 = 1

// NewBPFKey encodes a MapKey.
func NewBPFKey(k MapKey) BPFKey {
	return BPFKey{Prefixlen: k.PrefixLen(), Identity: k.Identity, Egress: uint8(k.Direction), Proto: k.Proto,
		DPort: bits.ReverseBytes16(k.Port)}
}

// MapKey decodes the key.
func (b BPFKey) MapKey() MapKey {
	k := MapKey{Identity: b.Identity, Direction: Direction(b.Egress), Proto: b.Proto, Port: bits.ReverseBytes16(b.DPort)}
	if b.Prefixlen > ProtoPrefixBits {
		k.PortBits = uint8(b.Prefixlen - ProtoPrefixBits)
	}
	return k
}

// mapOps writes policy entries into the per-endpoint maps, creating a map
// (and its slot in the outer map) when an endpoint gets its first entry.
// It implements reconcilers.Operations[*Entry].
type mapOps struct {
	dir     string
	cookies *Cookies
	log     *slog.Logger

	mu    sync.Mutex
	outer *ebpf.Map
	maps  map[uint16]*bpfmap.Map[BPFKey, BPFValue]
}

func newMapOps(pinDir string, cookies *Cookies, log *slog.Logger) *mapOps {
	return &mapOps{dir: pinDir, cookies: cookies, log: log, maps: map[uint16]*bpfmap.Map[BPFKey, BPFValue]{}}
}

func innerSpec() *ebpf.MapSpec {
	return &ebpf.MapSpec{Name: "policy_inner", Type: ebpf.LPMTrie, KeySize: 12, ValueSize: 24,
		MaxEntries: MapMaxEntries, Flags: 1 /* BPF_F_NO_PREALLOC */}
}

// open creates or adopts the outer map.
func (o *mapOps) open() error {
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	spec := &ebpf.MapSpec{Name: OuterMapName, Type: ebpf.HashOfMaps, KeySize: 4, ValueSize: 4,
		MaxEntries: OuterMaxEntries, InnerMap: innerSpec(), Pinning: ebpf.PinByName}
	m, err := ebpf.NewMapWithOptions(spec, ebpf.MapOptions{PinPath: o.dir})
	if errors.Is(err, ebpf.ErrMapIncompatible) {
		_ = os.Remove(filepath.Join(o.dir, OuterMapName))
		m, err = ebpf.NewMapWithOptions(spec, ebpf.MapOptions{PinPath: o.dir})
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", OuterMapName, err)
	}
	o.outer = m
	return nil
}

func (o *mapOps) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range o.maps {
		_ = m.Close()
	}
	if o.outer != nil {
		_ = o.outer.Close()
	}
}

func (o *mapOps) mapOf(ep uint16) (*bpfmap.Map[BPFKey, BPFValue], error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if m, ok := o.maps[ep]; ok {
		return m, nil
	}
	m, err := bpfmap.New[BPFKey, BPFValue](bpfmap.Spec{Name: MapName(ep), Type: ebpf.LPMTrie, MaxEntries: MapMaxEntries, PinDir: o.dir}, o.log)
	if err != nil {
		return nil, err
	}
	if err := m.Open(); err != nil {
		return nil, fmt.Errorf("open policy map of endpoint %d: %w", ep, err)
	}
	if err := o.outer.Update(uint32(ep), uint32(m.EBPF().FD()), ebpf.UpdateAny); err != nil {
		_ = m.Close()
		return nil, fmt.Errorf("insert policy map of endpoint %d into %s: %w", ep, OuterMapName, err)
	}
	o.maps[ep] = m
	return m, nil
}

func (o *mapOps) value(e *Entry) BPFValue {
	v := BPFValue{}
	if e.Verdict.Deny {
		v.Flags |= FlagDeny
	}
	if len(e.Verdict.Policies) > 0 {
		v.Cookie = o.cookies.Of(e.Verdict.Policies[0])
	}
	return v
}

// Update implements reconcilers.Operations.
func (o *mapOps) Update(_ context.Context, e *Entry) error {
	m, err := o.mapOf(e.Endpoint)
	if err != nil {
		return err
	}
	return m.Update(NewBPFKey(e.Key), o.value(e))
}

// Delete implements reconcilers.Operations.
func (o *mapOps) Delete(_ context.Context, e *Entry) error {
	o.mu.Lock()
	m, ok := o.maps[e.Endpoint]
	o.mu.Unlock()
	if !ok {
		return nil
	}
	err := m.Delete(NewBPFKey(e.Key))
	if errors.Is(err, ebpf.ErrKeyNotExist) {
		return nil
	}
	return err
}

// Prune implements reconcilers.Operations: keys no entry asks for are
// deleted, and the maps of endpoints without entries removed.
func (o *mapOps) Prune(_ context.Context, objects iter.Seq[*Entry]) error {
	want := map[uint16]map[BPFKey]bool{}
	for e := range objects {
		if want[e.Endpoint] == nil {
			want[e.Endpoint] = map[BPFKey]bool{}
		}
		want[e.Endpoint][NewBPFKey(e.Key)] = true
	}
	files, err := os.ReadDir(o.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		name, ok := strings.CutPrefix(f.Name(), MapPrefix)
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 16)
		if err != nil {
			continue
		}
		ep := uint16(n)
		if want[ep] == nil {
			errs = append(errs, o.remove(ep))
			continue
		}
		m, err := o.mapOf(ep)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var stale []BPFKey
		err = m.Walk(func(keys []BPFKey, _ []BPFValue) error {
			for _, k := range keys {
				if !want[ep][k] {
					stale = append(stale, k)
				}
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
		for _, k := range stale {
			if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// remove drops an endpoint's map and its outer slot.
func (o *mapOps) remove(ep uint16) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.outer.Delete(uint32(ep)); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return err
	}
	if m, ok := o.maps[ep]; ok {
		_ = m.Close()
		delete(o.maps, ep)
	}
	err := os.Remove(filepath.Join(o.dir, MapName(ep)))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// DumpMap reads an endpoint's pinned policy map under pinDir.
func DumpMap(pinDir string, ep uint16) (map[MapKey]BPFValue, error) {
	m, err := ebpf.LoadPinnedMap(filepath.Join(pinDir, MapName(ep)), &ebpf.LoadPinOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("open policy map of endpoint %d: %w", ep, err)
	}
	defer m.Close()
	out := map[MapKey]BPFValue{}
	var k BPFKey
	var v BPFValue
	it := m.Iterate()
	for it.Next(&k, &v) {
		out[k.MapKey()] = v
	}
	return out, it.Err()
}

// Cookies numbers policy names for the map values, so a verdict event can
// name the policy responsible. Safe for concurrent use.
type Cookies struct {
	mu     sync.Mutex
	byName map[string]uint32
	names  []string
}

// NewCookies returns an empty registry; cookie 0 means "no policy".
func NewCookies() *Cookies { return &Cookies{byName: map[string]uint32{}, names: []string{""}} }

// Of returns the cookie of a policy name, assigning one if needed.
func (c *Cookies) Of(name string) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := c.byName[name]; ok {
		return id
	}
	id := uint32(len(c.names))
	c.names = append(c.names, name)
	c.byName[name] = id
	return id
}

// Name returns the policy name of a cookie.
func (c *Cookies) Name(id uint32) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int(id) < len(c.names) {
		return c.names[id]
	}
	return ""
}

// All returns the names by cookie (index 0 is "no policy"), for a flow
// reader naming the policy of a verdict event.
func (c *Cookies) All() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.names...)
}
