package bpf

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
)

// Host is the datapath of the node's external devices: NodePort,
// LoadBalancer and external IP translation for traffic from outside
// (bpf_host.c). It shares the load-balancer and conntrack maps with the
// endpoint datapath through their pins, so load it after [Load].
//
// Its TCX links are pinned under <bpf-root>/netdev-links/<device>, so
// translation keeps working while the agent restarts; a new Host adopts
// them when it attaches the same device.
type Host struct {
	cfg  Config
	log  *slog.Logger
	objs hostObjects

	mu    sync.Mutex
	links map[string][]link.Link
}

const netdevLinksDir = "netdev-links"

// LoadHost loads the external device programs for a node whose address on
// that device is nodeIP (NodePort frontends answer on it).
func LoadHost(cfg Config, nodeIP netip.Addr, log *slog.Logger) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !nodeIP.Is4() {
		return nil, fmt.Errorf("node address %s for NodePort: want an IPv4 address", nodeIP)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	spec, err := loadHost()
	if err != nil {
		return nil, err
	}
	spec.Maps[MapCT4Global].MaxEntries = uint32(cfg.CTGlobalTCPMax)
	spec.Maps[MapCTAny4Global].MaxEntries = uint32(cfg.CTGlobalAnyMax)
	for _, name := range []string{MapLB4Services, MapLB4Backends, MapLB4ReverseNAT, MapLB4Maglev, MapLB4Affinity} {
		spec.Maps[name].MaxEntries = uint32(cfg.LBMapMax)
	}
	lbAlg := uint8(0)
	if cfg.LBAlgorithm == LBAlgorithmMaglev {
		lbAlg = 1
	}
	if err := spec.Variables[hostVarCfgLbAlgorithm].Set(lbAlg); err != nil {
		return nil, err
	}
	if err := spec.Variables[hostVarCfgNodeIpv4].Set(be32(nodeIP)); err != nil {
		return nil, err
	}
	h := &Host{cfg: cfg, log: log, links: map[string][]link.Link{}}
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: filepath.Join(cfg.BPFRoot, globalsDir)}}
	if err := spec.LoadAndAssign(&h.objs, opts); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return nil, fmt.Errorf("load host datapath: %+v", verr)
		}
		return nil, fmt.Errorf("load host datapath (load the endpoint datapath first): %w", err)
	}
	return h, nil
}

// FromNetdev and ToNetdev return the programs, for tests.
func (h *Host) FromNetdev() *ebpf.Program { return h.objs.CilFromNetdev }

// ToNetdev returns the program of the external device's egress.
func (h *Host) ToNetdev() *ebpf.Program { return h.objs.CilToNetdev }

// Attach attaches the programs to device dev of the calling thread's
// network namespace with pinned TCX links, adopting links an earlier Host
// pinned for it.
func (h *Host) Attach(dev string) error {
	nl, err := netlink.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("attach NodePort programs to %s: %w", dev, err)
	}
	dir := filepath.Join(h.cfg.BPFRoot, netdevLinksDir, dev)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.links[dev] {
		l.Close()
	}
	h.links[dev] = nil
	for _, hk := range []struct {
		name string
		prog *ebpf.Program
		at   ebpf.AttachType
	}{
		{"from-netdev", h.objs.CilFromNetdev, ebpf.AttachTCXIngress},
		{"to-netdev", h.objs.CilToNetdev, ebpf.AttachTCXEgress},
	} {
		pin := filepath.Join(dir, hk.name)
		if l, err := link.LoadPinnedLink(pin, nil); err == nil {
			info, ierr := l.Info()
			if ierr == nil && info.TCX() != nil && int(info.TCX().Ifindex) == nl.Attrs().Index {
				if err := l.Update(hk.prog); err == nil {
					h.links[dev] = append(h.links[dev], l)
					continue
				}
			}
			l.Unpin()
			l.Close()
		}
		l, err := link.AttachTCX(link.TCXOptions{Interface: nl.Attrs().Index, Program: hk.prog, Attach: hk.at})
		if err != nil {
			return fmt.Errorf("attach %s to %s with TCX: %w", hk.name, dev, err)
		}
		if err := l.Pin(pin); err != nil {
			l.Close()
			return fmt.Errorf("pin %s link of %s: %w", hk.name, dev, err)
		}
		h.links[dev] = append(h.links[dev], l)
	}
	return nil
}

// Detach removes the programs from dev and unpins their links.
func (h *Host) Detach(dev string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for _, l := range h.links[dev] {
		errs = append(errs, l.Unpin(), l.Close())
	}
	delete(h.links, dev)
	os.Remove(filepath.Join(h.cfg.BPFRoot, netdevLinksDir, dev))
	return errors.Join(errs...)
}

// Close releases h's handles; pinned links stay attached.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for _, ls := range h.links {
		for _, l := range ls {
			errs = append(errs, l.Close())
		}
	}
	h.links = map[string][]link.Link{}
	errs = append(errs, h.objs.Close())
	return errors.Join(errs...)
}
