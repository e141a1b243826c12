package statedb

import (
	"context"
	"errors"
	"time"
)

// The graveyard holds tombstones of deleted objects for as long as some
// change iterator has not seen the delete. Collection runs after commits
// that left tombstones, at most once per gcInterval, and removes every
// tombstone at or below the table's low watermark.

func (db *DB) kickGC() {
	select {
	case db.gcKick <- struct{}{}:
	default:
	}
}

// CollectGraveyard removes the tombstones every change iterator has seen,
// in all tables, and returns how many it removed. The collector started by
// [DB.Start] or [Cell] calls it; call it directly only in tests or tools.
func (db *DB) CollectGraveyard() int {
	removed := 0
	for _, e := range db.root.Load().entries {
		if e.numDeleted == 0 {
			continue
		}
		removed += db.collectTable(e.meta)
	}
	return removed
}

func (db *DB) collectTable(b *tableBase) int {
	start := time.Now()
	wtxn := db.WriteTxn(b.meta).unwrap()
	defer wtxn.Abort()
	// Only under the table lock: trackers register and tombstones appear
	// under it, so no tracker can join with a claim on a tombstone we see.
	low := b.lowWatermark()
	s := &wtxn.states[0]
	e := &s.entry
	n := 0
	// Usually every tracker has seen every tombstone: drop the graveyard
	// wholesale instead of key by key.
	if last, ok := e.graveRevs.last(); ok && last.revision <= low {
		n = e.numDeleted
		s.resetIndex(graveyardIndexPos)
		e.graveRevs = revTree{}
	} else {
		var dead []*object
		for o := range e.graveRevs.from(0) {
			if o.revision > low {
				break
			}
			dead = append(dead, o)
		}
		owner := s.revOwner()
		for _, o := range dead {
			e.graveRevs.set(owner, o.revision, nil)
			s.txn(graveyardIndexPos).Delete(b.primaryKey(o.data))
		}
		n = len(dead)
	}
	if n > 0 {
		e.numDeleted -= n
		s.changed = true
		wtxn.Commit()
		db.metrics.gcDuration.WithLabelValues(b.name).Observe(time.Since(start).Seconds())
	}
	return n
}

func (db *DB) runGC(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-db.gcKick:
		}
		db.CollectGraveyard()
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(db.gcInterval):
		}
	}
}

// Start starts the graveyard collector. Use it when the DB is not run by
// [Cell] (which runs the collector as a job).
func (db *DB) Start() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.stopGC != nil {
		return errors.New("statedb: DB already started")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	db.stopGC, db.gcDone = cancel, done
	go func() {
		defer close(done)
		db.runGC(ctx)
	}()
	return nil
}

// Stop stops the collector started by Start and waits for it to exit.
func (db *DB) Stop() error {
	db.mu.Lock()
	cancel, done := db.stopGC, db.gcDone
	db.stopGC, db.gcDone = nil, nil
	db.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	return nil
}
