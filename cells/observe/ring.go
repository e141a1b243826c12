package observe

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/bits"
	"runtime"
	"sync/atomic"
)

// ErrBadCapacity is returned for a ring capacity that is not 2^n-1 in
// [1, MaxCapacity].
var ErrBadCapacity = errors.New("ring capacity must be 2^n-1 (1, 3, 7, ..., 4095, ...)")

// MaxCapacity is the largest ring capacity.
const MaxCapacity = 1<<20 - 1

// Ring is a bounded buffer of the most recent values written to it.
// Writers never wait for readers and readers never block writers: a write
// is one atomic add and one compare-and-swap of a slot; a reader that is
// lapped by the writers skips what it missed. Any number of goroutines may
// write and read concurrently. Values are immutable once written; readers
// get pointers to them.
//
// A ring of capacity 2^n-1 has 2^n slots: the extra slot is the one the
// next write overwrites, so the last capacity values are always readable
// even while a write is in flight (the layout Hubble's ring uses, hence
// the 2^n-1 capacities of --hubble-event-buffer-capacity).
type Ring[T any] struct {
	mask  uint64
	slots []atomic.Pointer[slot[T]]
	// next is the sequence number the next write takes; sequence numbers
	// start at 0 and never repeat.
	next atomic.Uint64
	// wake is closed (and cleared) by the first write after a follower
	// registered it.
	wake atomic.Pointer[chan struct{}]
}

type slot[T any] struct {
	seq uint64
	val T
}

// NewRing returns an empty ring holding up to capacity values.
func NewRing[T any](capacity int) (*Ring[T], error) {
	if err := checkCapacity(capacity); err != nil {
		return nil, err
	}
	return &Ring[T]{
		mask:  uint64(capacity),
		slots: make([]atomic.Pointer[slot[T]], capacity+1),
	}, nil
}

func checkCapacity(capacity int) error {
	if capacity < 1 || capacity > MaxCapacity || bits.OnesCount(uint(capacity)+1) != 1 {
		return fmt.Errorf("%w: got %d", ErrBadCapacity, capacity)
	}
	return nil
}

// Cap returns how many values the ring holds when full.
func (r *Ring[T]) Cap() int { return int(r.mask) }

// Written returns how many values have been written since the ring was
// created.
func (r *Ring[T]) Written() uint64 { return r.next.Load() }

// Len returns how many values the ring holds.
func (r *Ring[T]) Len() int { return int(min(r.next.Load(), r.mask)) }

// Write appends v, evicting the oldest value when the ring is full.
func (r *Ring[T]) Write(v T) {
	seq := r.next.Add(1) - 1
	s := &slot[T]{seq: seq, val: v}
	p := &r.slots[seq&r.mask]
	for {
		old := p.Load()
		if old != nil && old.seq > seq {
			// A writer a whole ring ahead already filled the slot: this
			// value is older than anything readable, so it is dropped.
			break
		}
		if p.CompareAndSwap(old, s) {
			break
		}
	}
	if r.wake.Load() != nil {
		if ch := r.wake.Swap(nil); ch != nil {
			close(*ch)
		}
	}
}

// load returns the value with sequence number seq, or why there is none:
// pending (written later or in flight) or lost (overwritten).
func (r *Ring[T]) load(seq uint64) (v *T, pending bool) {
	s := r.slots[seq&r.mask].Load()
	switch {
	case s == nil || s.seq < seq:
		return nil, true
	case s.seq > seq:
		return nil, false
	}
	return &s.val, false
}

// Backward yields the readable values with a sequence number below
// before, from the newest to the oldest, with their sequence numbers.
// Values overwritten while it runs end it. Pass Written() for everything;
// pass the same number to Follow to continue after the history without a
// gap or a repeat.
func (r *Ring[T]) Backward(before uint64) iter.Seq2[uint64, *T] {
	return func(yield func(uint64, *T) bool) {
		next := r.next.Load()
		hi := min(before, next)
		lo := uint64(0)
		if next > r.mask {
			lo = next - r.mask
		}
		for seq := hi; seq > lo; seq-- {
			v, pending := r.load(seq - 1)
			if pending {
				continue // a write still in flight
			}
			if v == nil {
				return // overwritten: the rest is older still
			}
			if !yield(seq-1, v) {
				return
			}
		}
	}
}

// Follow yields values from sequence number from onwards as they are
// written, waiting for new ones until ctx ends. If the writers lap the
// reader it continues with the oldest value still readable; the gap shows
// in the sequence numbers. idle, when not nil, runs each time Follow is
// about to wait (a stream flushes its buffer there).
func (r *Ring[T]) Follow(ctx context.Context, from uint64, idle func()) iter.Seq2[uint64, *T] {
	return func(yield func(uint64, *T) bool) {
		seq := from
		for {
			v, pending := r.load(seq)
			switch {
			case v != nil:
				if !yield(seq, v) {
					return
				}
				seq++
			case !pending:
				// Lapped: skip to the oldest readable value.
				if hi := r.next.Load(); hi > r.mask {
					seq = max(seq+1, hi-r.mask)
				} else {
					seq++
				}
			case seq < r.next.Load():
				// Taken by a writer that has not stored it yet.
				runtime.Gosched()
			default:
				if idle != nil {
					idle()
				}
				if !r.wait(ctx, seq) {
					return
				}
			}
		}
	}
}

// wait blocks until a value with sequence number seq has been taken by a
// writer or ctx ends; it reports whether to go on.
func (r *Ring[T]) wait(ctx context.Context, seq uint64) bool {
	for {
		ch := r.wake.Load()
		if ch == nil {
			c := make(chan struct{})
			if !r.wake.CompareAndSwap(nil, &c) {
				continue
			}
			ch = &c
		}
		// A write between the check and the registration would have found
		// no channel to close: look again now that one is registered.
		if r.next.Load() > seq {
			return true
		}
		select {
		case <-*ch:
			return true
		case <-ctx.Done():
			return false
		}
	}
}
