package observe

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/cell"
)

// FlowSource is where the observe cell gets flows from. Observe calls next
// for each flow from one goroutine at a time, and complete when the stream
// ends or ctx is cancelled; the cell calls Observe again (with backoff) if
// the stream fails.
//
// The agent's datapath cell provides NewDatapathSource(datapath); tests
// provide any Observable.
type FlowSource interface {
	cell.Observable[bpf.Flow]
	// Lost returns how many flow events were lost before they reached
	// Observe's next since the source was created: dropped by the producer
	// because the consumer was behind, or undecodable.
	Lost() (uint64, error)
}

// FlowOpener opens a reader of the datapath's flow events: a
// *bpf.Datapath, or the datapath cell's Datapath.
type FlowOpener interface {
	Flows() (*bpf.FlowReader, error)
}

// NewDatapathSource returns the FlowSource of a datapath: its flow ring
// buffer. The ring buffer has one consumer position, so an agent has one
// such source, the observe cell's.
func NewDatapathSource(d FlowOpener) FlowSource { return &datapathSource{d: d} }

type datapathSource struct {
	d FlowOpener

	mu       sync.Mutex
	rd       *bpf.FlowReader
	baseline uint64 // the lost counter when rd was opened: it counts since the map was pinned
	// prior is what earlier readers of this source lost.
	prior, bad atomic.Uint64
}

func (s *datapathSource) Observe(ctx context.Context, next func(bpf.Flow), complete func(error)) {
	rd, err := s.d.Flows()
	if err != nil {
		complete(err)
		return
	}
	base, err := rd.Lost()
	if err != nil {
		rd.Close()
		complete(err)
		return
	}
	s.mu.Lock()
	s.rd, s.baseline = rd, base
	s.mu.Unlock()
	go func() {
		stop := context.AfterFunc(ctx, func() { rd.Close() })
		defer stop()
		for f, err := range rd.All() {
			if err != nil {
				s.bad.Add(1)
				continue
			}
			next(f)
		}
		s.mu.Lock()
		if n, err := rd.Lost(); err == nil && n >= s.baseline {
			s.prior.Add(n - s.baseline)
		}
		s.rd = nil
		s.mu.Unlock()
		if ctx.Err() != nil {
			complete(ctx.Err())
			return
		}
		complete(fmt.Errorf("flow ring buffer reader closed"))
	}()
}

func (s *datapathSource) Lost() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.prior.Load() + s.bad.Load()
	if s.rd == nil {
		return n, nil
	}
	cur, err := s.rd.Lost()
	if err != nil {
		return n, err
	}
	if cur < s.baseline {
		// The counter went backwards: the map was recreated under us.
		s.baseline = cur
	}
	return n + cur - s.baseline, nil
}
