package cell

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Jobs runs a module's background work. A job starts when the lifecycle
// reaches the point where it was added: a job added by a constructor starts
// after everything that constructor depends on, and so stops before those
// dependencies stop (a flow reader stops before the datapath closes its
// maps). A job added once the hive is running starts at once. Every job is
// cancelled and awaited when the hive stops.
type Jobs interface {
	Add(jobs ...Job)
}

// Job is a unit of background work: OneShot, Timer or Observer.
type Job interface {
	jobName() string
	run(ctx context.Context, env jobEnv)
}

type jobEnv struct {
	health   Health
	log      *slog.Logger
	shutdown func(error)
}

type jobGroup struct {
	env jobEnv
	lc  Lifecycle
}

func newJobGroup(env jobEnv, lc Lifecycle) *jobGroup {
	return &jobGroup{env: env, lc: lc}
}

func (g *jobGroup) Add(jobs ...Job) {
	for _, j := range jobs {
		r := &jobRunner{job: j, env: g.env}
		r.env.health = g.env.health.NewScope("job-" + j.jobName())
		r.env.log = g.env.log.With("job", j.jobName())
		g.lc.Append(Hook{Name: "job-" + j.jobName(), OnStart: r.start, OnStop: r.stop})
	}
}

// jobRunner is one job's goroutine, started and stopped by its hook.
type jobRunner struct {
	job    Job
	env    jobEnv
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *jobRunner) start(context.Context) error {
	// Jobs outlive the start context; they end when stop cancels them.
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		r.job.run(ctx, r.env)
	}()
	return nil
}

func (r *jobRunner) stop(ctx context.Context) error {
	r.cancel()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("job %s did not stop in time: %w", r.job.jobName(), ctx.Err())
	}
}

// Backoff is an exponential backoff between Min and Max, doubling each attempt.
type Backoff struct {
	Min, Max time.Duration
}

// Duration is the wait before retry number attempt (0-based).
func (b Backoff) Duration(attempt int) time.Duration {
	d := b.Min
	if d <= 0 {
		d = time.Millisecond
	}
	for range attempt {
		d *= 2
		if b.Max > 0 && d >= b.Max {
			return b.Max
		}
	}
	if b.Max > 0 && d > b.Max {
		return b.Max
	}
	return d
}

// JobOption adjusts a job.
type JobOption func(*jobOptions)

type jobOptions struct {
	retries  int // -1: forever
	backoff  Backoff
	shutdown bool
	trigger  *trigger
}

// WithRetry retries a failing one-shot job up to n times (n < 0: until the hive
// stops), waiting per the backoff between attempts.
func WithRetry(n int, b Backoff) JobOption {
	return func(o *jobOptions) { o.retries, o.backoff = n, b }
}

// WithShutdown makes the final failure of a one-shot job stop the hive, for work
// the process cannot run without.
func WithShutdown() JobOption { return func(o *jobOptions) { o.shutdown = true } }

// WithTrigger lets t run a timer job ahead of its interval.
func WithTrigger(t Trigger) JobOption {
	return func(o *jobOptions) { o.trigger = t.(*trigger) }
}

func applyJobOptions(opts []JobOption) jobOptions {
	o := jobOptions{backoff: Backoff{Min: 50 * time.Millisecond, Max: time.Minute}}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// sleep waits d or until ctx ends; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

type oneShot struct {
	name string
	fn   func(context.Context, Health) error
	opts jobOptions
}

// OneShot runs fn once when the hive starts. A failing fn is retried per
// WithRetry; the job's health is Degraded between failures and OK once fn
// returns nil. fn must return when ctx is cancelled.
func OneShot(name string, fn func(ctx context.Context, health Health) error, opts ...JobOption) Job {
	return &oneShot{name: name, fn: fn, opts: applyJobOptions(opts)}
}

func (j *oneShot) jobName() string { return j.name }

// reportingHealth remembers whether the job reported OK itself, so the
// framework's "completed" does not overwrite the job's own message.
type reportingHealth struct {
	Health
	reportedOK bool
}

func (r *reportingHealth) OK(msg string) { r.reportedOK = true; r.Health.OK(msg) }

func (r *reportingHealth) Degraded(msg string, err error) {
	r.reportedOK = false
	r.Health.Degraded(msg, err)
}

func (j *oneShot) run(ctx context.Context, env jobEnv) {
	for attempt := 0; ; attempt++ {
		h := &reportingHealth{Health: env.health}
		err := j.fn(ctx, h)
		if err == nil {
			if !h.reportedOK {
				env.health.OK("completed")
			}
			return
		}
		if ctx.Err() != nil {
			env.health.Stopped("cancelled")
			return
		}
		env.health.Degraded(fmt.Sprintf("failed (attempt %d)", attempt+1), err)
		if j.opts.retries >= 0 && attempt >= j.opts.retries {
			env.log.Error("Job failed", "attempts", attempt+1, "error", err)
			if j.opts.shutdown {
				env.shutdown(fmt.Errorf("job %s failed: %w", j.name, err))
			}
			return
		}
		wait := j.opts.backoff.Duration(attempt)
		env.log.Warn("Job failed, retrying", "attempt", attempt+1, "retry-in", wait, "error", err)
		if !sleep(ctx, wait) {
			env.health.Stopped("cancelled")
			return
		}
	}
}

// Trigger runs a timer job ahead of its interval. Triggers that arrive while
// the job runs fold into one more run.
type Trigger interface {
	Trigger()
}

type trigger struct{ ch chan struct{} }

// NewTrigger returns a Trigger for use with WithTrigger.
func NewTrigger() Trigger { return &trigger{ch: make(chan struct{}, 1)} }

func (t *trigger) Trigger() {
	select {
	case t.ch <- struct{}{}:
	default:
	}
}

type timer struct {
	name     string
	fn       func(context.Context) error
	interval time.Duration
	opts     jobOptions
}

// Timer runs fn every interval (the first run after one interval) and whenever
// its trigger fires. An error makes the job Degraded until a later run succeeds.
func Timer(name string, fn func(ctx context.Context) error, interval time.Duration, opts ...JobOption) Job {
	if interval <= 0 {
		panic(fmt.Sprintf("cell.Timer %q: interval must be positive, got %s", name, interval))
	}
	return &timer{name: name, fn: fn, interval: interval, opts: applyJobOptions(opts)}
}

func (j *timer) jobName() string { return j.name }

func (j *timer) run(ctx context.Context, env jobEnv) {
	tick := time.NewTicker(j.interval)
	defer tick.Stop()
	var trig <-chan struct{}
	if j.opts.trigger != nil {
		trig = j.opts.trigger.ch
	}
	env.health.OK("waiting for first run")
	for {
		select {
		case <-ctx.Done():
			env.health.Stopped("stopped")
			return
		case <-tick.C:
		case <-trig:
		}
		if err := j.fn(ctx); err != nil {
			if ctx.Err() != nil {
				env.health.Stopped("stopped")
				return
			}
			env.health.Degraded("run failed", err)
			env.log.Warn("Timer job failed", "error", err)
			continue
		}
		env.health.OK("ran at " + time.Now().Format(time.RFC3339))
	}
}

// Observable is a stream of events. Observe calls next for each event, then
// complete once with nil (the stream ended) or the error that ended it; both
// stop when ctx is cancelled.
type Observable[T any] interface {
	Observe(ctx context.Context, next func(T), complete func(error))
}

// FromChannel makes an Observable of a channel; it completes when ch closes.
func FromChannel[T any](ch <-chan T) Observable[T] { return chanObservable[T](ch) }

type chanObservable[T any] <-chan T

func (c chanObservable[T]) Observe(ctx context.Context, next func(T), complete func(error)) {
	go func() {
		for {
			select {
			case <-ctx.Done():
				complete(ctx.Err())
				return
			case v, ok := <-c:
				if !ok {
					complete(nil)
					return
				}
				next(v)
			}
		}
	}()
}

type observer[T any] struct {
	name string
	fn   func(context.Context, T) error
	src  Observable[T]
}

// Observer runs fn for every event of src, one at a time. An error from fn makes
// the job Degraded (the next success clears it) and does not stop the stream.
func Observer[T any](name string, fn func(ctx context.Context, event T) error, src Observable[T]) Job {
	return &observer[T]{name: name, fn: fn, src: src}
}

func (j *observer[T]) jobName() string { return j.name }

func (j *observer[T]) run(ctx context.Context, env jobEnv) {
	events := make(chan T)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	j.src.Observe(ctx,
		func(ev T) {
			select {
			case events <- ev:
			case <-ctx.Done():
			}
		},
		func(err error) { done <- err })
	env.health.OK("observing")
	for {
		select {
		case ev := <-events:
			if err := j.fn(ctx, ev); err != nil {
				env.health.Degraded("handling event failed", err)
				env.log.Warn("Observer failed to handle event", "error", err)
			} else {
				env.health.OK("observing")
			}
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				env.health.Degraded("stream failed", err)
				return
			}
			env.health.Stopped("stream completed")
			return
		}
	}
}
