package datapath

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"

	"github.com/hivenet/hivenet/bpf"
)

// FlushConntrack deletes every conntrack entry to or from ip, so an address
// given to a new pod does not inherit the old pod's connections. It returns
// how many entries it deleted.
func (l *loader) FlushConntrack(ip netip.Addr) (int, error) {
	if _, err := l.get(); err != nil {
		return 0, err
	}
	total := 0
	for _, name := range []string{bpf.MapCT4Global, bpf.MapCTAny4Global} {
		n, err := flushMap(bpf.MapPinPath(l.cfg.BPFRoot, name), ip)
		total += n
		if err != nil {
			return total, fmt.Errorf("flush %s: %w", name, err)
		}
	}
	return total, nil
}

func flushMap(pin string, ip netip.Addr) (int, error) {
	m, err := ebpf.LoadPinnedMap(pin, nil)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	var (
		key     bpf.CTKey
		val     bpf.CTEntry
		matches []bpf.CTKey
	)
	it := m.Iterate()
	for it.Next(&key, &val) {
		if key.Src().Addr() == ip || key.Dst().Addr() == ip {
			matches = append(matches, key)
		}
	}
	if err := it.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, k := range matches {
		if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return n, err
		}
		n++
	}
	return n, nil
}
