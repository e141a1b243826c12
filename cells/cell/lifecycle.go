package cell

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Hook is a pair of functions run when the hive starts and stops. Either may be
// nil. OnStart must return once the component is running (long-running work goes
// in a goroutine or, better, a Job); OnStop must release what OnStart acquired.
// Both get a context that expires with the hive's start or stop timeout.
type Hook struct {
	// Name identifies the hook in logs and errors; defaults to the function name.
	Name    string
	OnStart func(context.Context) error
	OnStop  func(context.Context) error
}

// Lifecycle collects hooks. Hooks start in the order they were appended, which
// is dependency order because constructors run after their dependencies, and
// stop in reverse. A hook appended while the hive is running (by a start hook
// or a job) starts at once and stops with the others, in reverse order.
type Lifecycle interface {
	Append(Hook)
}

type hookEntry struct {
	module string
	hook   Hook
}

func (e hookEntry) name() string {
	if e.hook.Name != "" {
		return e.hook.Name
	}
	if e.hook.OnStart != nil {
		return funcName(e.hook.OnStart)
	}
	if e.hook.OnStop != nil {
		return funcName(e.hook.OnStop)
	}
	return "<empty>"
}

func (e hookEntry) where() string {
	if e.module == "" {
		return "root scope"
	}
	return fmt.Sprintf("module %q", e.module)
}

type lifecycle struct {
	mu      sync.Mutex
	hooks   []hookEntry
	started int // hooks[:started] have started successfully
	running bool
	log     func() *slog.Logger
}

func (lc *lifecycle) forModule(id string) Lifecycle { return moduleLifecycle{lc, id} }

type moduleLifecycle struct {
	lc     *lifecycle
	module string
}

func (m moduleLifecycle) Append(h Hook) {
	e := hookEntry{module: m.module, hook: h}
	lc := m.lc
	lc.mu.Lock()
	if !lc.running {
		lc.hooks = append(lc.hooks, e)
		lc.mu.Unlock()
		return
	}
	lc.mu.Unlock()
	// Late hooks start outside the lock: OnStart may append hooks itself.
	if h.OnStart != nil {
		if err := h.OnStart(context.Background()); err != nil {
			lc.log().Error("Hook appended while running failed to start", "module", e.module, "hook", e.name(), "error", err)
			return
		}
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if !lc.running {
		// The hive began stopping meanwhile: undo, as stop would have.
		if h.OnStop != nil {
			go func() { _ = h.OnStop(context.Background()) }()
		}
		return
	}
	// Everything before is started, so the invariant hooks[:started] holds.
	lc.hooks = append(lc.hooks, e)
	lc.started = len(lc.hooks)
}

// ErrStart wraps the error of a hive whose start failed; the message names the
// module and hook that failed.
var ErrStart = errors.New("start failed")

// start runs the start hooks in order. On the first failure it stops the hooks
// that already started, in reverse, and returns an error naming the module.
func (lc *lifecycle) start(ctx context.Context) error {
	for {
		lc.mu.Lock()
		if lc.started >= len(lc.hooks) {
			lc.running = true
			lc.mu.Unlock()
			return nil
		}
		e := lc.hooks[lc.started]
		lc.mu.Unlock()

		if e.hook.OnStart != nil {
			t0 := time.Now()
			lc.log().Debug("Starting", "module", e.module, "hook", e.name())
			err := e.hook.OnStart(ctx)
			if err == nil && ctx.Err() != nil {
				err = ctx.Err()
			}
			if err != nil {
				startErr := fmt.Errorf("%w in %s: hook %s: %w", ErrStart, e.where(), e.name(), err)
				lc.log().Error("Start hook failed, stopping what already started", "module", e.module, "hook", e.name(), "error", err)
				stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if serr := lc.stop(stopCtx); serr != nil {
					return errors.Join(startErr, serr)
				}
				return startErr
			}
			lc.log().Debug("Started", "module", e.module, "hook", e.name(), "duration", time.Since(t0))
		}
		lc.mu.Lock()
		lc.started++
		lc.mu.Unlock()
	}
}

// stop runs the stop hooks of the started hooks in reverse order, all of them
// even when some fail, and returns their errors joined.
func (lc *lifecycle) stop(ctx context.Context) error {
	lc.mu.Lock()
	lc.running = false
	lc.mu.Unlock()
	var errs []error
	for {
		lc.mu.Lock()
		if lc.started == 0 {
			lc.mu.Unlock()
			return errors.Join(errs...)
		}
		lc.started--
		e := lc.hooks[lc.started]
		lc.mu.Unlock()
		if e.hook.OnStop == nil {
			continue
		}
		lc.log().Debug("Stopping", "module", e.module, "hook", e.name())
		if err := e.hook.OnStop(ctx); err != nil {
			lc.log().Error("Stop hook failed", "module", e.module, "hook", e.name(), "error", err)
			errs = append(errs, fmt.Errorf("stop %s: hook %s: %w", e.where(), e.name(), err))
		}
	}
}
