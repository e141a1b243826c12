package reconcilers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hivenet/hivenet/statedb"
)

// Health is where a reconciler reports whether objects are failing.
// cell.Health implements it.
type Health interface {
	OK(msg string)
	Degraded(msg string, err error)
}

// maxReportedErrors bounds how many object errors a degraded health report
// carries; the count says how many there are in all.
const maxReportedErrors = 3

// Reconciler applies one table's desired state to a target through its
// Operations and writes the outcome back into the objects' status. Create
// it with [New] and run it with [Reconciler.Run] (or register it in a hive
// with [Register]).
type Reconciler[T any] struct {
	cfg     Config[T]
	params  Params
	log     *slog.Logger
	metrics tableMetrics
	batch   BatchOperations[T] // nil if Operations does not batch

	// Rounds cycle from free through the reconcile loop to writeBacks
	// and back, so the hot path does not allocate per object.
	free       chan *round[T]
	writeBacks chan *round[T]

	retries *retryQueue[T]

	mu          sync.Mutex
	processed   statedb.Revision
	processedCh chan struct{} // closed and replaced when processed advances
	running     bool
}

// New validates cfg and returns a reconciler that is not running yet.
func New[T any](cfg Config[T]) (*Reconciler[T], error) {
	cfg.Params = cfg.Params.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	r := &Reconciler[T]{
		cfg:         cfg,
		params:      cfg.Params,
		log:         cfg.Log.With("table", cfg.Table.Name()),
		metrics:     cfg.Metrics.forTable(cfg.Table.Name()),
		retries:     newRetryQueue[T](cfg.Params.RetryBackoffMin, cfg.Params.RetryBackoffMax),
		processedCh: make(chan struct{}),
	}
	r.batch, _ = cfg.Operations.(BatchOperations[T])
	r.free = make(chan *round[T], pipelineDepth)
	for range pipelineDepth {
		r.free <- &round[T]{}
	}
	return r, nil
}

// WaitUntilReconciled blocks until every change to the table up to revision
// rev has been applied (or has failed and is queued for retry, with the
// error in its status), or ctx ends. It returns the revision reconciled so
// far. Writers get rev from the table after their commit:
//
//	rev := table.Revision(wtxn.Commit())
//	r.WaitUntilReconciled(ctx, rev)
func (r *Reconciler[T]) WaitUntilReconciled(ctx context.Context, rev statedb.Revision) (statedb.Revision, error) {
	for {
		r.mu.Lock()
		cur, ch := r.processed, r.processedCh
		r.mu.Unlock()
		if cur >= rev {
			return cur, nil
		}
		select {
		case <-ctx.Done():
			return cur, fmt.Errorf("table %s reconciled up to revision %d, waiting for %d: %w",
				r.cfg.Table.Name(), cur, rev, ctx.Err())
		case <-ch:
		}
	}
}

func (r *Reconciler[T]) setProcessed(rev statedb.Revision) {
	r.mu.Lock()
	if rev > r.processed {
		r.processed = rev
		close(r.processedCh)
		r.processedCh = make(chan struct{})
	}
	r.mu.Unlock()
}

// Run reconciles until ctx ends, reporting to health (which may be nil).
// It returns nil when ctx is cancelled, and an error only if it cannot
// start.
func (r *Reconciler[T]) Run(ctx context.Context, health Health) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return fmt.Errorf("reconciler for table %s is already running", r.cfg.Table.Name())
	}
	r.running = true
	r.mu.Unlock()
	if health == nil {
		health = nopHealth{}
	}

	db, table := r.cfg.DB, r.cfg.Table
	wtxn := db.WriteTxn(table)
	changes, err := table.Changes(wtxn)
	if err != nil {
		wtxn.Abort()
		return fmt.Errorf("reconciler for table %s: track changes: %w", table.Name(), err)
	}
	wtxn.Commit()
	defer changes.Close()

	r.writeBacks = make(chan *round[T], pipelineDepth)
	wbDone := make(chan struct{})
	go func() {
		defer close(wbDone)
		r.writeBackLoop()
	}()
	// On return, the rounds already applied are still written back.
	defer func() {
		close(r.writeBacks)
		<-wbDone
	}()

	var (
		initialized      bool
		initWatch        <-chan struct{}
		nextPrune        time.Time // zero: not scheduled
		pruneFailed      int
		lastFailing      = -1
		lastPruneErr     error
		lastPruneFailing bool
		lastReport       time.Time
		timer            = time.NewTimer(time.Hour)
	)
	defer timer.Stop()

	for {
		txn := db.ReadTxn()
		watch := r.incremental(ctx, txn, changes)
		if watch == nil {
			return nil
		}
		r.processRetries(ctx)

		if !initialized {
			initialized, initWatch = table.Initialized(txn)
			if initialized {
				nextPrune = time.Now() // first prune right away
			}
		}
		if initialized && !nextPrune.IsZero() && !time.Now().Before(nextPrune) {
			lastPruneErr = r.prune(ctx)
			switch {
			case lastPruneErr != nil:
				pruneFailed++
				nextPrune = time.Now().Add(r.retries.backoff(pruneFailed))
			case r.params.PruneInterval < 0:
				pruneFailed = 0
				nextPrune = time.Time{}
			default:
				pruneFailed = 0
				nextPrune = time.Now().Add(r.params.PruneInterval)
			}
		}

		// Report when the picture changes, and while degraded at most once
		// a second so the errors shown stay current.
		n, pruneFailing := r.retries.len(), lastPruneErr != nil
		degraded := n > 0 || pruneFailing
		if n != lastFailing || pruneFailing != lastPruneFailing || (degraded && time.Since(lastReport) >= time.Second) {
			lastFailing, lastPruneFailing, lastReport = n, pruneFailing, time.Now()
			r.reportHealth(health, lastPruneErr)
		}

		// Sleep until there are changes, the table becomes initialised, a
		// retry or the next prune is due.
		wake, ok := r.retries.next()
		if !nextPrune.IsZero() && (!ok || nextPrune.Before(wake)) {
			wake, ok = nextPrune, true
		}
		var timerC <-chan time.Time
		if ok {
			timer.Reset(max(time.Until(wake), 0))
			timerC = timer.C
		}
		var initC <-chan struct{}
		if !initialized {
			initC = initWatch
		}
		select {
		case <-ctx.Done():
			return nil
		case <-watch:
		case <-initC:
		case <-timerC:
		}
		if ok && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

func (r *Reconciler[T]) processedRevision() statedb.Revision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.processed
}

func (r *Reconciler[T]) reportHealth(health Health, pruneErr error) {
	n := r.retries.len()
	r.metrics.failing.Set(float64(n))
	errs := r.retries.errors(maxReportedErrors)
	if pruneErr != nil {
		errs = append(errs, fmt.Errorf("prune: %w", pruneErr))
	}
	if len(errs) == 0 {
		health.OK("reconciled")
		return
	}
	msg := fmt.Sprintf("%d objects failing to reconcile", n)
	if pruneErr != nil {
		msg += ", prune failing"
	}
	health.Degraded(msg, errors.Join(errs...))
}

type nopHealth struct{}

func (nopHealth) OK(string)              {}
func (nopHealth) Degraded(string, error) {}
