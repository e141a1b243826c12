package reconcilers

import (
	"container/heap"
	"sync"
	"time"

	"github.com/hivenet/hivenet/statedb"
)

// retryItem is one failed object waiting for its next attempt.
type retryItem[T any] struct {
	key string
	// obj is the failed object. For an update the retry re-reads the
	// table instead, so it acts on whatever version is current; for a
	// delete the object is gone from the table and obj is all there is.
	obj      T
	query    statedb.Query[T]
	deleted  bool
	attempts int
	at       time.Time
	err      error
	index    int // in the heap
}

// retryQueue holds failed objects by primary key, ordered by when they are
// due. Each object is in it at most once, so a newer version replaces an
// older one's retry. It is safe for concurrent use: the reconcile loop and
// the write-back goroutine both use it.
type retryQueue[T any] struct {
	min, max time.Duration
	mu       sync.Mutex
	items    map[string]*retryItem[T]
	due      retryHeap[T]
}

func newRetryQueue[T any](min, max time.Duration) *retryQueue[T] {
	return &retryQueue[T]{min: min, max: max, items: map[string]*retryItem[T]{}}
}

func (q *retryQueue[T]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// backoff is the wait before attempt n+1 after n failures.
func (q *retryQueue[T]) backoff(failures int) time.Duration {
	d := q.min
	for i := 1; i < failures && d < q.max; i++ {
		d *= 2
	}
	return min(d, q.max)
}

// add records a failure of the object with the given key and schedules its
// next attempt; failures of an object already queued back off further.
func (q *retryQueue[T]) add(key string, obj T, query statedb.Query[T], deleted bool, err error, now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[key]
	if !ok {
		it = &retryItem[T]{key: key}
		q.items[key] = it
	}
	it.obj, it.query, it.deleted, it.err = obj, query, deleted, err
	it.attempts++
	it.at = now.Add(q.backoff(it.attempts))
	if ok {
		heap.Fix(&q.due, it.index)
	} else {
		heap.Push(&q.due, it)
	}
}

// remove drops the object's retry, if any: a newer version (or its delete)
// is being applied instead.
func (q *retryQueue[T]) remove(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if it, ok := q.items[key]; ok {
		heap.Remove(&q.due, it.index)
		delete(q.items, key)
	}
}

// next returns when the earliest retry is due.
func (q *retryQueue[T]) next() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.due) == 0 {
		return time.Time{}, false
	}
	return q.due[0].at, true
}

// popDue removes and returns the earliest retry if it is due at now. The
// caller re-adds it if the attempt fails.
func (q *retryQueue[T]) popDue(now time.Time) (*retryItem[T], bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.due) == 0 || q.due[0].at.After(now) {
		return nil, false
	}
	it := heap.Pop(&q.due).(*retryItem[T])
	delete(q.items, it.key)
	return it, true
}

// errors returns up to n of the queued errors, earliest due first.
func (q *retryQueue[T]) errors(n int) []error {
	q.mu.Lock()
	defer q.mu.Unlock()
	var errs []error
	for _, it := range q.due {
		if len(errs) == n {
			break
		}
		errs = append(errs, it.err)
	}
	return errs
}

// reAdd puts back a popped item that failed again, keeping its count.
func (q *retryQueue[T]) reAdd(it *retryItem[T], err error, now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.items[it.key]; ok {
		return // replaced meanwhile by a newer failure
	}
	it.err = err
	it.attempts++
	it.at = now.Add(q.backoff(it.attempts))
	q.items[it.key] = it
	heap.Push(&q.due, it)
}

type retryHeap[T any] []*retryItem[T]

func (h retryHeap[T]) Len() int           { return len(h) }
func (h retryHeap[T]) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h retryHeap[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *retryHeap[T]) Push(x any) {
	it := x.(*retryItem[T])
	it.index = len(*h)
	*h = append(*h, it)
}
func (h *retryHeap[T]) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return it
}
