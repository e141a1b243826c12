package bpf

import (
	"errors"
	"fmt"
	"iter"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// FlowReader reads flow events from the datapath's ring buffer. The ring
// buffer has a single consumer position: an agent runs one FlowReader
// (the observe cell's), two would each see part of the events.
type FlowReader struct {
	rd         *ringbuf.Reader
	lost       *ebpf.Map
	monoToWall time.Duration
	rec        ringbuf.Record
	deadline   time.Time
}

// flowPollInterval bounds how long an event waits in the ring buffer:
// the programs wake the reader only for batches (see flowWakeupBytes).
const flowPollInterval = 50 * time.Millisecond

// Flows opens a reader of d's flow events. Close it to release it and to
// end a blocked Read.
func (d *Datapath) Flows() (*FlowReader, error) {
	rd, err := ringbuf.NewReader(d.objs.HivenetFlows)
	if err != nil {
		return nil, fmt.Errorf("open flow ring buffer: %w", err)
	}
	off, err := monoToWall()
	if err != nil {
		rd.Close()
		return nil, err
	}
	return &FlowReader{rd: rd, lost: d.objs.HivenetFlowsLost, monoToWall: off}, nil
}

// monoToWall returns the offset from CLOCK_MONOTONIC to wall clock time.
func monoToWall() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, fmt.Errorf("read monotonic clock: %w", err)
	}
	return time.Duration(time.Now().UnixNano() - ts.Nano()), nil
}

// Read blocks until the next flow event, the deadline set with
// SetDeadline (os.ErrDeadlineExceeded), or Close (os.ErrClosed).
// Read is not safe for concurrent use.
func (r *FlowReader) Read() (Flow, error) {
	for {
		poll := time.Now().Add(flowPollInterval)
		if !r.deadline.IsZero() && r.deadline.Before(poll) {
			poll = r.deadline
		}
		r.rd.SetDeadline(poll)
		err := r.rd.ReadInto(&r.rec)
		if err == nil {
			return DecodeFlow(r.rec.RawSample, r.monoToWall)
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return Flow{}, err
		}
		if !r.deadline.IsZero() && !time.Now().Before(r.deadline) {
			return Flow{}, err
		}
	}
}

// SetDeadline makes Read return os.ErrDeadlineExceeded after t; the
// zero time waits forever. It must not be called during a Read.
func (r *FlowReader) SetDeadline(t time.Time) { r.deadline = t }

// All yields flow events until the reader is closed, then stops. Errors
// other than closing (a malformed record, a deadline) are yielded and
// reading goes on if the consumer continues.
func (r *FlowReader) All() iter.Seq2[Flow, error] {
	return func(yield func(Flow, error) bool) {
		for {
			f, err := r.Read()
			if errors.Is(err, os.ErrClosed) {
				return
			}
			if !yield(f, err) {
				return
			}
		}
	}
}

// Lost returns how many events the programs could not write because the
// ring buffer was full, since the map was created.
func (r *FlowReader) Lost() (uint64, error) {
	var perCPU []uint64
	if err := r.lost.Lookup(uint32(0), &perCPU); err != nil {
		return 0, fmt.Errorf("read %s: %w", MapFlowsLost, err)
	}
	var n uint64
	for _, v := range perCPU {
		n += v
	}
	return n, nil
}

// Close releases the reader; a blocked Read returns os.ErrClosed.
func (r *FlowReader) Close() error { return r.rd.Close() }
