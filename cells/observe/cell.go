package observe

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/datapath"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/statedb"
)

// Config is the observe cell's configuration.
type Config struct {
	// HubbleEventBufferCapacity is how many recent flows the agent keeps.
	HubbleEventBufferCapacity int `flag:"hubble-event-buffer-capacity" help:"Number of recent flows kept for hivenet observe; 2^n-1 (1, 3, ..., 4095, ..., 1048575)"`
}

// DefaultConfig is Cilium's default.
var DefaultConfig = Config{HubbleEventBufferCapacity: 4095}

// Validate implements cell.Validator.
func (c Config) Validate() error {
	if err := checkCapacity(c.HubbleEventBufferCapacity); err != nil {
		return fmt.Errorf("--hubble-event-buffer-capacity: %w", err)
	}
	return nil
}

// Cell is the observe cell. It is not behind a feature switch: flows are
// collected whenever the datapath runs. It uses, when the hive has them, a
// FlowSource (tests provide one) or else the datapath cell's Datapath, and
// the endpoints table with the statedb DB; without a source it serves an
// empty buffer and says why in its status.
var Cell = cell.Module("observe", "Recent flows of the datapath, served to hivenet observe",
	cell.Config(DefaultConfig),
	cell.Provide(newObserver, newAPIHandlers),
	// Flows are collected from start, whether or not anyone has asked yet.
	cell.Invoke(func(*Observer) {}),
)

type observerParams struct {
	cell.In

	// The flow source and the datapath come before Jobs on purpose: a
	// module's jobs start and stop where its Jobs was first requested, so
	// requesting it after them makes the reader start after the datapath
	// has loaded and stop before the datapath closes its maps.
	Source    FlowSource                         `optional:"true"`
	Datapath  datapath.Datapath                  `optional:"true"`
	DB        *statedb.DB                        `optional:"true"`
	Endpoints statedb.Table[*endpoints.Endpoint] `optional:"true"`

	Config    Config
	Lifecycle cell.Lifecycle
	Jobs      cell.Jobs
	Log       *slog.Logger
}

func newObserver(p observerParams) (*Observer, error) {
	o, err := NewObserver(p.Config.HubbleEventBufferCapacity, p.DB, p.Endpoints)
	if err != nil {
		return nil, err
	}
	if p.Endpoints == nil || p.DB == nil {
		p.Log.Info("No endpoints table: flows show addresses, not pod names")
	}
	p.Lifecycle.Append(cell.Hook{
		Name: "observe",
		OnStart: func(context.Context) error {
			node, err := os.Hostname()
			if err != nil {
				node = ""
			}
			o.start(time.Now(), node)
			return nil
		},
		OnStop: func(context.Context) error { o.stop(); return nil },
	})
	src := p.Source
	if src == nil && p.Datapath != nil {
		src = NewDatapathSource(p.Datapath)
	}
	p.Jobs.Add(
		cell.OneShot("read-flows", func(ctx context.Context, h cell.Health) error {
			if src == nil {
				h.OK("no flow source: the datapath is not running")
				return nil
			}
			return o.run(ctx, src, h)
		}, cell.WithRetry(-1, cell.Backoff{Min: 100 * time.Millisecond, Max: 30 * time.Second})),
		cell.Timer("flow-stats", func(context.Context) error {
			o.sampleRate(time.Now())
			if src == nil {
				return nil
			}
			n, err := src.Lost()
			if err != nil {
				return fmt.Errorf("read lost flow events: %w", err)
			}
			o.lost.Store(n)
			return nil
		}, time.Second),
	)
	return o, nil
}

// run feeds the ring from src until ctx ends or the stream fails.
func (o *Observer) run(ctx context.Context, src FlowSource, h cell.Health) error {
	done := make(chan error, 1)
	src.Observe(ctx, o.Ingest, func(err error) { done <- err })
	var err error
	select {
	case err = <-done:
		// Failed to open (the datapath is not loaded yet, say).
	default:
		o.setSource("datapath flow ring buffer")
		h.OK("reading flows")
		err = <-done
	}
	if ctx.Err() != nil {
		return nil
	}
	o.setSource(fmt.Sprintf("datapath flow ring buffer: %v (reopening)", err))
	if err == nil {
		err = fmt.Errorf("flow stream ended")
	}
	return err
}

// compile-time check that the datapath's source fits.
var _ FlowSource = (*datapathSource)(nil)
