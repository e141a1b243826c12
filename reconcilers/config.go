package reconcilers

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hivenet/hivenet/statedb"
)

// Config is what a [Reconciler] needs for one table.
type Config[T any] struct {
	// DB and Table are the desired-state table to follow and write status
	// back to.
	DB    *statedb.DB
	Table statedb.RWTable[T]

	// Operations applies objects to the target. If it also implements
	// BatchOperations, changes are applied in batches.
	Operations Operations[T]

	// GetObjectStatus and SetObjectStatus give access to the Status the
	// objects carry. SetObjectStatus must return a copy: objects in a table
	// are immutable.
	GetObjectStatus func(T) Status
	SetObjectStatus func(T, Status) T

	// Params are the timings and bounds; zero fields take the defaults of
	// [DefaultParams].
	Params Params

	// Metrics to record into; nil records into a private set nobody
	// exports (use [NewMetrics] and register it to see them).
	Metrics *Metrics

	// Log defaults to slog.Default().
	Log *slog.Logger
}

// Params are a reconciler's timings and bounds. They are the agent flags
// of [Cell] and can be overridden per reconciler.
type Params struct {
	// PruneInterval is how often the target is fully reconciled (pruned)
	// once the table is initialised. Zero means the default; negative
	// means only once, right after initialisation.
	PruneInterval time.Duration `flag:"reconciler-prune-interval" help:"How often reconcilers remove from BPF maps and the kernel what no table asks for, once the table is initialised (negative: only once)"`
	// RetryBackoffMin and RetryBackoffMax bound the exponential backoff
	// of a failing object: the n-th retry waits min*2^(n-1), at most max.
	RetryBackoffMin time.Duration `flag:"reconciler-retry-backoff-min" help:"Delay before the first retry of an object that failed to reconcile; doubles per failure"`
	RetryBackoffMax time.Duration `flag:"reconciler-retry-backoff-max" help:"Longest delay between retries of an object that keeps failing"`
	// RoundSize bounds how many changes one incremental round applies (and
	// writes back in one transaction), so a flood of changes does not hold
	// the table's write lock or delay retries and pruning for long.
	RoundSize int `flag:"reconciler-round-size" help:"Most changes a reconciler applies and writes back in one round"`
}

// DefaultParams are the agent's defaults.
var DefaultParams = Params{
	PruneInterval:   5 * time.Minute,
	RetryBackoffMin: 100 * time.Millisecond,
	RetryBackoffMax: time.Minute,
	// Large enough to amortise a batch syscall and a commit, small enough
	// that one round does not hold the table's write lock for long. (5000
	// measured within noise of 1000 on the reference VM.)
	RoundSize: 1000,
}

func (p Params) withDefaults() Params { return p.or(DefaultParams) }

func (p Params) validate() error {
	switch {
	case p.RetryBackoffMin < 0 || p.RetryBackoffMax < p.RetryBackoffMin:
		return fmt.Errorf("retry backoff min %s / max %s: want 0 < min <= max", p.RetryBackoffMin, p.RetryBackoffMax)
	case p.RoundSize < 0:
		return fmt.Errorf("round size %d: want > 0", p.RoundSize)
	}
	return nil
}

func (c *Config[T]) validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("DB is nil"))
	}
	if c.Table == nil {
		errs = append(errs, errors.New("config has no Table"))
	}
	if c.Operations == nil {
		errs = append(errs, errors.New("Operations is nil"))
	}
	if c.GetObjectStatus == nil || c.SetObjectStatus == nil {
		errs = append(errs, errors.New("GetObjectStatus and SetObjectStatus are required"))
	}
	if err := c.Params.validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		name := "<nil>"
		if c.Table != nil {
			name = c.Table.Name()
		}
		return fmt.Errorf("reconciler for table %s: %w", name, errors.Join(errs...))
	}
	return nil
}
