package observe

import (
	"context"
	"iter"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/observe/flow"
	"github.com/hivenet/hivenet/statedb"
)

// Observer keeps the recent flows and answers queries over them. Ingest is
// called by one goroutine (the source's); queries run concurrently with it
// and with each other without locks.
type Observer struct {
	ring *Ring[Record]
	db   *statedb.DB
	eps  statedb.Table[*endpoints.Endpoint]
	// node is this node's name in flow responses, set at start.
	node atomic.Pointer[string]

	started atomic.Int64 // unix nanos; 0 before start
	lost    atomic.Uint64
	rate    atomic.Uint64 // float64 bits
	source  atomic.Pointer[string]
	// followers counts the follow streams running now.
	followers atomic.Int64

	// stopped is closed when the cell stops, ending follow streams.
	stopped  chan struct{}
	stopOnce sync.Once

	// endpoints caches the JSON form of the endpoints flows name: table
	// objects are immutable, so an object and an identity always give the
	// same answer. Cleared when it grows past epCacheMax (deleted endpoints
	// would otherwise stay forever).
	endpoints  sync.Map // epKey → *flow.Endpoint
	endpointsN atomic.Int64

	rateMu      sync.Mutex
	rateSamples [rateWindow]rateSample
	rateN       int
}

// rateWindow is how many one-second samples the flows/s figure spans.
const rateWindow = 10

type rateSample struct {
	at   time.Time
	seen uint64
}

// NewObserver returns an observer with a ring of the given capacity
// (2^n-1). db and eps, when not nil, name flow addresses after the
// endpoints that own them.
func NewObserver(capacity int, db *statedb.DB, eps statedb.Table[*endpoints.Endpoint]) (*Observer, error) {
	ring, err := NewRing[Record](capacity)
	if err != nil {
		return nil, err
	}
	if db == nil || eps == nil {
		db, eps = nil, nil
	}
	o := &Observer{ring: ring, db: db, eps: eps, stopped: make(chan struct{})}
	o.setSource("none: the datapath is not running")
	return o, nil
}

// Ingest enriches a datapath flow and adds it to the ring.
func (o *Observer) Ingest(f bpf.Flow) {
	r := Record{Flow: f}
	if o.db != nil {
		txn := o.db.ReadTxn()
		r.SrcEP = o.lookup(txn, f.Src.Addr())
		r.DstEP = o.lookup(txn, f.Dst.Addr())
	}
	r.SrcIdentity = resolveIdentity(f.SrcIdentity, r.SrcEP)
	r.DstIdentity = resolveIdentity(f.DstIdentity, r.DstEP)
	o.ring.Write(r)
}

func (o *Observer) lookup(txn statedb.ReadTxn, a netip.Addr) *endpoints.Endpoint {
	ep, _, ok := o.eps.Get(txn, endpoints.ByIPv4.Query(a.Unmap()))
	if !ok {
		return nil
	}
	return ep
}

// Query returns the flows q asks for: up to q.Last of the most recent
// matching ones, oldest first, then, with q.Follow, every new matching flow
// until ctx ends or the observer stops. idle runs whenever a follow stream
// is about to wait for new flows. A filter that does not compile is
// returned as an error before anything is yielded.
func (o *Observer) Query(ctx context.Context, q flow.Query, idle func()) (iter.Seq[*Record], error) {
	match, err := compileFilter(q.Filter)
	if err != nil {
		return nil, err
	}
	return func(yield func(*Record) bool) {
		hi := o.ring.Written()
		if q.Last > 0 {
			hist := make([]*Record, 0, min(q.Last, o.ring.Len()))
			for _, r := range o.ring.Backward(hi) {
				if match == nil || match(r) {
					hist = append(hist, r)
					if len(hist) == q.Last {
						break
					}
				}
			}
			for i := len(hist) - 1; i >= 0; i-- {
				if !yield(hist[i]) {
					return
				}
			}
		}
		if !q.Follow {
			return
		}
		o.followers.Add(1)
		defer o.followers.Add(-1)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-o.stopped:
				cancel()
			case <-ctx.Done():
			}
		}()
		for _, r := range o.ring.Follow(ctx, hi, idle) {
			if match == nil || match(r) {
				if !yield(r) {
					return
				}
			}
		}
	}, nil
}

type epKey struct {
	ep       *endpoints.Endpoint
	identity uint32
}

const epCacheMax = 8192

// ToFlow returns r as Hubble's flow JSON, sharing the endpoint parts
// between flows (they are read-only).
func (o *Observer) ToFlow(r *Record) *flow.Flow {
	return r.toFlow(o.NodeName(), o.endpointJSON)
}

func (o *Observer) endpointJSON(ep *endpoints.Endpoint, identity uint32) *flow.Endpoint {
	k := epKey{ep, identity}
	if v, ok := o.endpoints.Load(k); ok {
		return v.(*flow.Endpoint)
	}
	if o.endpointsN.Add(1) > epCacheMax {
		o.endpoints.Clear()
		o.endpointsN.Store(1)
	}
	e := endpointOf(ep, identity)
	o.endpoints.Store(k, e)
	return e
}

// Followers returns how many follow streams are running.
func (o *Observer) Followers() int { return int(o.followers.Load()) }

// Status returns the buffer's state.
func (o *Observer) Status() flow.Status {
	s := flow.Status{
		NumFlows:       uint64(o.ring.Len()),
		MaxFlows:       uint64(o.ring.Cap()),
		SeenFlows:      o.ring.Written(),
		FlowsPerSecond: math.Float64frombits(o.rate.Load()),
		Lost:           o.lost.Load(),
		Source:         *o.source.Load(),
	}
	if st := o.started.Load(); st != 0 {
		s.Uptime = time.Since(time.Unix(0, st))
	}
	return s
}

func (o *Observer) setSource(s string) { o.source.Store(&s) }

// NodeName returns the node name flows are attributed to.
func (o *Observer) NodeName() string {
	if n := o.node.Load(); n != nil {
		return *n
	}
	return ""
}

// sampleRate records the count of flows seen at now and updates flows/s
// over the samples of the last rateWindow seconds.
func (o *Observer) sampleRate(now time.Time) {
	o.rateMu.Lock()
	defer o.rateMu.Unlock()
	cur := rateSample{at: now, seen: o.ring.Written()}
	oldest := o.rateSamples[o.rateN%rateWindow]
	if o.rateN < rateWindow {
		oldest = o.rateSamples[0]
	}
	o.rateSamples[o.rateN%rateWindow] = cur
	o.rateN++
	if o.rateN == 1 {
		return
	}
	if d := cur.at.Sub(oldest.at).Seconds(); d > 0 {
		o.rate.Store(math.Float64bits(float64(cur.seen-oldest.seen) / d))
	}
}

func (o *Observer) start(now time.Time, node string) {
	o.node.Store(&node)
	o.started.Store(now.UnixNano())
	o.sampleRate(now)
}

func (o *Observer) stop() { o.stopOnce.Do(func() { close(o.stopped) }) }
