package reconcilers_test

import (
	"context"
	"errors"
	"iter"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hivenet/hivenet/reconcilers"
)

// pruneFailingOps is memOps whose Prune fails while failing is set.
type pruneFailingOps struct {
	*memOps
	failing atomic.Bool
	prunes  atomic.Int64
}

func (o *pruneFailingOps) Prune(ctx context.Context, objs iter.Seq[*testObj]) error {
	o.prunes.Add(1)
	if o.failing.Load() {
		return errors.New("dump interrupted")
	}
	return o.memOps.Prune(ctx, objs)
}

// TestPruneFailureDegradesHealth: a failing prune degrades health and is
// retried; once it succeeds, health is OK again and the stale entry is
// gone.
func TestPruneFailureDegradesHealth(t *testing.T) {
	ops := &pruneFailingOps{memOps: &memOps{m: map[uint32]uint64{100: 1}}}
	ops.failing.Store(true)
	db, table := newTable(t)
	health := &recordingHealth{}
	r := start(t, reconcilers.Config[*testObj]{
		DB: db, Table: table, Operations: ops,
		GetObjectStatus: getStatus, SetObjectStatus: setStatus,
		Params: reconcilers.Params{PruneInterval: time.Hour, RetryBackoffMin: 5 * time.Millisecond, RetryBackoffMax: 20 * time.Millisecond},
	}, health)
	waitReconciled(t, r, insert(t, db, table, newObj(1, 1)))

	eventually(t, "health degraded by prune", func() bool {
		degraded, msg, err := health.get()
		return degraded && strings.Contains(msg, "prune failing") && err != nil && strings.Contains(err.Error(), "dump interrupted")
	})
	// Retried with backoff, not only at the hour's interval.
	eventually(t, "prune retried", func() bool { return ops.prunes.Load() >= 3 })
	if _, ok := ops.snapshot()[100]; !ok {
		t.Fatal("a failed prune removed the stale entry")
	}

	ops.failing.Store(false)
	eventually(t, "health OK after prune recovers", func() bool { degraded, _, _ := health.get(); return !degraded })
	if got := ops.snapshot(); len(got) != 1 || got[1] != 1 {
		t.Fatalf("target after prune: %v", got)
	}
}
