package cell

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
)

// Shutdowner asks the hive to stop, for a component that cannot go on. The
// error, if not nil, becomes the process's exit error.
type Shutdowner interface {
	Shutdown(err error)
}

// HiveConfig is the hive's own configuration: flags every binary has.
type HiveConfig struct {
	ConfigDir    string        `help:"Directory with one file per flag (a mounted ConfigMap); the command line wins over it"`
	StartTimeout time.Duration `help:"How long all start hooks together may take"`
	StopTimeout  time.Duration `help:"How long all stop hooks together may take"`
	Debug        bool          `help:"Log at debug level"`
	LogFormat    string        `help:"Log format: text or json"`
}

// DefaultHiveConfig is what a hive uses unless flags say otherwise.
var DefaultHiveConfig = HiveConfig{
	StartTimeout: 5 * time.Minute,
	StopTimeout:  time.Minute,
	LogFormat:    "text",
}

// Hive is a process built from cells. Use it in this order: New,
// RegisterFlags, parse the flags, Populate, Start, Stop — or Run, which does
// Populate, Start, waits for a signal or Shutdown, and Stops.
type Hive struct {
	cells []Cell

	flags   *flagRegistry
	hiveCfg *HiveConfig

	log       *slog.Logger
	health    *healthRegistry
	lifecycle *lifecycle

	jobsMu sync.Mutex
	jobs   map[string]*jobGroup

	modules    []moduleRef
	features   []FeatureState
	decorators int

	populated bool
	shutdown  chan error
	once      sync.Once
}

// New returns a hive of the given cells. It constructs nothing yet.
func New(cells ...Cell) *Hive {
	h := &Hive{
		cells:    cells,
		health:   newHealthRegistry(),
		jobs:     map[string]*jobGroup{},
		shutdown: make(chan error, 1),
		log:      slog.Default(),
	}
	h.lifecycle = &lifecycle{log: func() *slog.Logger { return h.log }}
	return h
}

// RegisterFlags declares the hive's flags and every cell's flags in fs,
// annotated with the declaring module so help can group them. Call it once,
// before fs is parsed.
func (h *Hive) RegisterFlags(fs *pflag.FlagSet) {
	if h.flags != nil {
		panic("cell.Hive.RegisterFlags called twice")
	}
	h.flags = &flagRegistry{fs: fs, values: map[any]any{}}
	hc := Config(DefaultHiveConfig).(*config[HiveConfig])
	hc.registerFlags(h.flags)
	h.hiveCfg = h.flags.values[hc].(*HiveConfig)
	group(h.cells).registerFlags(h.flags)
}

// Config returns the hive's own configuration as parsed from its flags.
func (h *Hive) Config() HiveConfig {
	if h.hiveCfg == nil {
		return DefaultHiveConfig
	}
	return *h.hiveCfg
}

// SetLogger replaces the logger built from --debug and --log-format.
func (h *Hive) SetLogger(log *slog.Logger) { h.log = log }

// NewLogger returns the logger the flags ask for, writing to stderr.
func (h *Hive) NewLogger() (*slog.Logger, error) {
	cfg := h.Config()
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if cfg.Debug {
		opts.Level = slog.LevelDebug
	}
	switch cfg.LogFormat {
	case "text", "":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	default:
		return nil, fmt.Errorf("invalid value %q for --log-format: want text or json", cfg.LogFormat)
	}
}

func (h *Hive) moduleLogger(id string) *slog.Logger { return h.log.With("module", id) }

func (h *Hive) jobsFor(module string) Jobs {
	h.jobsMu.Lock()
	defer h.jobsMu.Unlock()
	g, ok := h.jobs[module]
	if !ok {
		log := h.log
		if module != "" {
			log = h.moduleLogger(module)
		}
		env := jobEnv{health: h.health.scope(module), log: log, shutdown: h.Shutdown}
		g = newJobGroup(env, h.lifecycle.forModule(module))
		h.jobs[module] = g
	}
	return g
}

// Populate reads the config directory, validates configuration and constructs
// the object graph: every Invoke runs, with the constructors it needs. Errors
// name the module, the constructor and the flag involved.
func (h *Hive) Populate() error {
	if h.populated {
		return nil
	}
	if h.flags == nil {
		h.RegisterFlags(pflag.NewFlagSet("hive", pflag.ContinueOnError))
	}
	if dir := h.Config().ConfigDir; dir != "" {
		if err := applyConfigDir(h.flags.fs, dir, h.log); err != nil {
			return err
		}
	}
	opts := []fx.Option{
		fx.WithLogger(func() fxevent.Logger { return fxevent.NopLogger }),
		fx.Provide(
			func() *slog.Logger { return h.log },
			func() Health { return h.health.scope("") },
			func() HealthReporter { return h.health },
			func() Lifecycle { return h.lifecycle.forModule("") },
			func() Jobs { return h.jobsFor("") },
			func() Shutdowner { return h },
			func() HiveInfo { return h },
		),
	}
	cellOpts, err := group(h.cells).options(h, &scope{})
	if err != nil {
		return err
	}
	for _, m := range h.modules {
		h.health.addModule(m.id, m.title)
	}
	app := fx.New(append(opts, cellOpts...)...)
	if err := app.Err(); err != nil {
		return err
	}
	h.populated = true
	return nil
}

// Start runs the start hooks in dependency order within --start-timeout. If
// one fails, the hooks that started are stopped in reverse and the error (which
// wraps ErrStart) names the failing module.
func (h *Hive) Start(ctx context.Context) error {
	if err := h.Populate(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, h.Config().StartTimeout)
	defer cancel()
	if err := h.lifecycle.start(ctx); err != nil {
		return err
	}
	h.health.markModules(LevelOK, "started", false)
	return nil
}

// Stop runs the stop hooks in reverse start order within --stop-timeout.
func (h *Hive) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, h.Config().StopTimeout)
	defer cancel()
	err := h.lifecycle.stop(ctx)
	h.health.markModules(LevelStopped, "stopped", true)
	return err
}

// Shutdown asks a running Run to stop. The first call wins.
func (h *Hive) Shutdown(err error) {
	h.once.Do(func() { h.shutdown <- err })
}

// Run populates and starts the hive, waits for SIGINT/SIGTERM or Shutdown,
// then stops it. The returned error is the start error, the shutdown reason, or
// the stop error.
func (h *Hive) Run() error {
	if err := h.Populate(); err != nil {
		return err
	}
	if err := h.Start(context.Background()); err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var reason error
	select {
	case s := <-sigs:
		h.log.Info("Signal received, stopping", "signal", s.String())
	case reason = <-h.shutdown:
		if reason != nil {
			h.log.Error("Shutdown requested", "error", reason)
		} else {
			h.log.Info("Shutdown requested")
		}
	}
	return errors.Join(reason, h.Stop(context.Background()))
}

// HiveInfo describes the running hive for status output.
type HiveInfo interface {
	// Features lists the feature switches and whether each is on.
	Features() []FeatureState
}

// Features implements HiveInfo.
func (h *Hive) Features() []FeatureState { return append([]FeatureState(nil), h.features...) }

// Health returns the hive's health read side.
func (h *Hive) Health() HealthReporter { return h.health }
