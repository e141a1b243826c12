// Package datapath is the datapath cell: it loads hivenet's BPF programs and
// maps (package bpf) when the agent starts, with the configuration from the
// agent's flags, and gives the endpoint and observe cells what they need of
// it: attaching programs to a device, flow events, conntrack.
//
// Stopping the agent closes the Go handles only. Maps and TCX links stay
// pinned, so traffic keeps flowing while the agent restarts, and the next
// agent adopts them.
package datapath

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/cell"
)

// ErrNotLoaded is returned by calls made before the agent started (or after
// it stopped).
var ErrNotLoaded = errors.New("datapath not loaded")

// Datapath is the loaded datapath.
type Datapath interface {
	// Attach attaches the endpoint programs to dev (TCX, or clsact where
	// TCX is missing).
	Attach(dev string) (bpf.AttachMode, error)
	// Detach removes the programs from dev and unpins their links.
	Detach(dev string) error
	// Flows opens a reader of flow events.
	Flows() (*bpf.FlowReader, error)
	// Conntrack dumps the conntrack maps.
	Conntrack() ([]bpf.CTRecord, error)
	// FlushConntrack deletes the conntrack entries to or from an address.
	FlushConntrack(ip netip.Addr) (int, error)
	// Config is the configuration it was loaded with.
	Config() bpf.Config
}

// Cell is the datapath module.
var Cell = cell.Module("datapath", "Loads and attaches the BPF datapath",
	cell.Config(bpf.DefaultConfig),
	cell.Provide(newDatapath, newAPIHandlers),
)

type loader struct {
	cfg bpf.Config
	log *slog.Logger

	mu sync.RWMutex
	dp *bpf.Datapath
}

// ctGCInterval is how often expired conntrack entries are deleted. The maps
// are LRU, so this is about keeping `bpf ct list` and the maps' fill honest,
// not about correctness; Cilium's default interval is of the same order.
const ctGCInterval = time.Minute

func newDatapath(cfg bpf.Config, lc cell.Lifecycle, jobs cell.Jobs, log *slog.Logger, h cell.Health) Datapath {
	l := &loader{cfg: cfg, log: log}
	jobs.Add(cell.Timer("conntrack-gc", func(context.Context) error {
		dp, err := l.get()
		if err != nil {
			return err
		}
		n, err := dp.GarbageCollectConntrack()
		if err != nil {
			return err
		}
		if n > 0 {
			log.Debug("Deleted expired conntrack entries", "count", n)
		}
		return nil
	}, ctGCInterval))
	lc.Append(cell.Hook{
		Name: "load-datapath",
		OnStart: func(context.Context) error {
			dp, err := bpf.Load(cfg, log)
			if err != nil {
				return err
			}
			l.mu.Lock()
			l.dp = dp
			l.mu.Unlock()
			h.OK("loaded, maps pinned under " + cfg.BPFRoot)
			return nil
		},
		OnStop: func(context.Context) error {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.dp == nil {
				return nil
			}
			err := l.dp.Close()
			l.dp = nil
			return err
		},
	})
	return l
}

func (l *loader) get() (*bpf.Datapath, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.dp == nil {
		return nil, ErrNotLoaded
	}
	return l.dp, nil
}

func (l *loader) Attach(dev string) (bpf.AttachMode, error) {
	dp, err := l.get()
	if err != nil {
		return "", err
	}
	return dp.Attach(dev)
}

func (l *loader) Detach(dev string) error {
	dp, err := l.get()
	if err != nil {
		return err
	}
	return dp.Detach(dev)
}

func (l *loader) Flows() (*bpf.FlowReader, error) {
	dp, err := l.get()
	if err != nil {
		return nil, err
	}
	return dp.Flows()
}

func (l *loader) Conntrack() ([]bpf.CTRecord, error) {
	dp, err := l.get()
	if err != nil {
		return nil, err
	}
	return dp.Conntrack()
}

func (l *loader) Config() bpf.Config { return l.cfg }
