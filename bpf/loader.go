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
)

// Datapath is the loaded datapath of one agent: programs, maps pinned under
// Config.BPFRoot, and the devices the programs are attached to.
//
// Close releases the process's handles only: pinned maps and links, and
// tc filters, stay in the kernel and keep traffic flowing until a new
// Datapath adopts them.
type Datapath struct {
	cfg Config
	log *slog.Logger

	objs lxcObjects

	mu       sync.Mutex
	tcx      bool // attach with TCX; cleared when the kernel lacks it
	attached map[string]*attachment
}

// Paths under Config.BPFRoot.
const (
	globalsDir = "globals" // pinned maps, by name
	linksDir   = "links"   // pinned TCX links, <device>.<program>
)

// MapPinPath returns where map name is pinned under a bpf root.
func MapPinPath(root, name string) string {
	return filepath.Join(root, globalsDir, name)
}

// Map names, as pinned under <bpf-root>/globals.
const (
	MapCT4Global    = lxcMapCiliumCt4Global
	MapCTAny4Global = lxcMapCiliumCtAny4Global
	MapEndpoints    = lxcMapCiliumLxc
	MapFlows        = lxcMapHivenetFlows
	MapFlowsLost    = lxcMapHivenetFlowsLost
)

// flowWakeupBytes is how much of the flow ring buffer fills before a
// program wakes the reader (at most a quarter of it); FlowReader polls for
// less every flowPollInterval.
const flowWakeupBytes = 32 << 10

// Load loads the programs and maps configured by cfg. Maps already pinned
// under cfg.BPFRoot are reused, so a restarted agent keeps conntrack and
// endpoints; a pinned map whose layout or size no longer matches cfg is
// replaced (its entries are lost) and the replacement logged. Links pinned
// by an earlier Datapath are adopted: their programs are swapped for the
// ones loaded now.
func Load(cfg Config, log *slog.Logger) (*Datapath, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	agg, _ := ParseAggregationLevel(cfg.MonitorAggregation)

	if err := ensureBPFFS(cfg.BPFRoot); err != nil {
		return nil, err
	}
	for _, dir := range []string{globalsDir, linksDir} {
		if err := os.MkdirAll(filepath.Join(cfg.BPFRoot, dir), 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}

	spec, err := loadLxc()
	if err != nil {
		return nil, err
	}
	spec.Maps[MapCT4Global].MaxEntries = uint32(cfg.CTGlobalTCPMax)
	spec.Maps[MapCTAny4Global].MaxEntries = uint32(cfg.CTGlobalAnyMax)
	spec.Maps[MapFlows].MaxEntries = uint32(cfg.EventsRingBufferSize)
	for _, name := range []string{MapLB4Services, MapLB4Backends, MapLB4ReverseNAT, MapLB4Maglev, MapLB4Affinity} {
		spec.Maps[name].MaxEntries = uint32(cfg.LBMapMax)
	}
	lbAlg := uint8(0)
	if cfg.LBAlgorithm == LBAlgorithmMaglev {
		lbAlg = 1
	}
	for name, v := range map[string]any{
		lxcVarCfgMonitorAggregation: uint8(agg),
		lxcVarCfgMonitorIntervalSec: uint32(cfg.MonitorAggregationInterval.Seconds()),
		lxcVarCfgEventsSampleRate:   cfg.EventsSampleRate,
		lxcVarCfgFlowWakeupBytes:    uint32(min(flowWakeupBytes, cfg.EventsRingBufferSize/4)),
		lxcVarCfgLbAlgorithm:        lbAlg,
	} {
		if err := spec.Variables[name].Set(v); err != nil {
			return nil, fmt.Errorf("set %s: %w", name, err)
		}
	}

	pinPath := filepath.Join(cfg.BPFRoot, globalsDir)
	if err := replaceIncompatiblePins(spec, pinPath, log); err != nil {
		return nil, err
	}

	d := &Datapath{
		cfg:      cfg,
		log:      log,
		tcx:      cfg.EnableTCX,
		attached: map[string]*attachment{},
	}
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: pinPath}}
	if err := spec.LoadAndAssign(&d.objs, opts); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return nil, fmt.Errorf("load datapath: %+v", verr)
		}
		return nil, fmt.Errorf("load datapath: %w", err)
	}
	if err := d.adoptPinnedLinks(); err != nil {
		d.objs.Close()
		return nil, err
	}
	return d, nil
}

// replaceIncompatiblePins removes pins of maps that cannot serve spec, so
// that loading creates them anew rather than failing.
func replaceIncompatiblePins(spec *ebpf.CollectionSpec, pinPath string, log *slog.Logger) error {
	for name, ms := range spec.Maps {
		if ms.Pinning != ebpf.PinByName {
			continue
		}
		path := filepath.Join(pinPath, name)
		m, err := ebpf.LoadPinnedMap(path, nil)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open pinned map %s: %w", path, err)
		}
		cerr := ms.Compatible(m)
		m.Close()
		if cerr == nil {
			continue
		}
		log.Warn("Replacing pinned map that no longer matches the configuration; its entries are lost",
			"map", name, "reason", cerr)
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("remove incompatible pinned map %s: %w", path, err)
		}
	}
	return nil
}

// Config returns the configuration d was loaded with.
func (d *Datapath) Config() Config { return d.cfg }

// FromContainer and ToContainer return the programs, for tests and
// benchmarks that run them directly.
func (d *Datapath) FromContainer() *ebpf.Program { return d.objs.CilFromContainer }

// ToContainer returns the program attached to endpoints' egress.
func (d *Datapath) ToContainer() *ebpf.Program { return d.objs.CilToContainer }

// EndpointsMap returns cilium_lxc, for the endpoints reconciler.
func (d *Datapath) EndpointsMap() *ebpf.Map { return d.objs.CiliumLxc }

// UpsertEndpoint writes ep to the endpoints map.
func (d *Datapath) UpsertEndpoint(ep Endpoint) error {
	if !ep.IP.Is4() && !ep.IP.Is4In6() {
		return fmt.Errorf("endpoint %d: address %s is not IPv4", ep.ID, ep.IP)
	}
	key, info := ep.Key(), ep.Info()
	if err := d.objs.CiliumLxc.Put(&key, &info); err != nil {
		return fmt.Errorf("write endpoint %d (%s) to %s: %w", ep.ID, ep.IP, MapEndpoints, err)
	}
	return nil
}

// DeleteEndpoint removes the endpoint with address ip from the endpoints
// map; deleting an absent endpoint is not an error.
func (d *Datapath) DeleteEndpoint(ip netip.Addr) error {
	key := NewEndpointKey(ip)
	err := d.objs.CiliumLxc.Delete(&key)
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("delete endpoint %s from %s: %w", ip, MapEndpoints, err)
	}
	return nil
}

// Close releases d's handles. Pinned maps and links stay: programs remain
// attached and traffic keeps flowing until the next Datapath adopts them.
// Close the FlowReaders of d first: they use its ring buffer map.
func (d *Datapath) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, a := range d.attached {
		errs = append(errs, a.close())
	}
	d.attached = map[string]*attachment{}
	errs = append(errs, d.objs.Close())
	return errors.Join(errs...)
}

// RemoveAll removes everything pinned under a bpf root: links (detaching
// their programs) and maps. Devices attached with tc filters keep them
// until they are detached or deleted.
func RemoveAll(root string) error {
	if err := os.RemoveAll(root); err != nil {
		return fmt.Errorf("remove bpf root %s: %w", root, err)
	}
	return nil
}
