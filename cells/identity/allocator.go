package identity

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

var (
	// ErrConflict is returned by a [Backend] when the identity number is
	// already taken (the API server refused the create).
	ErrConflict = errors.New("identity number already taken")
	// ErrExhausted is returned by [Allocator.Allocate] when every cluster
	// identity number is in use.
	ErrExhausted = errors.New("no free cluster identity numbers")
)

// Backend stores cluster identities where every agent sees them.
type Backend interface {
	// Create records identity id for labels, or returns an error wrapping
	// ErrConflict when the number is taken by anyone (including by the same
	// labels: a racing agent).
	Create(ctx context.Context, id ID, l Labels) error
}

// View is what the allocator knows of the identities that exist.
type View interface {
	// Find returns the identity of exactly these labels, if any.
	Find(l Labels) (ID, bool)
	// Taken reports whether the number is in use.
	Taken(id ID) bool
}

// Allocator finds or creates the cluster identity of a label set. It
// remembers what it created until the View shows it, so two calls for the
// same labels never create two identities.
type Allocator struct {
	backend Backend

	mu      sync.Mutex
	created map[string]ID // labels key -> id created by us
	taken   map[ID]bool   // numbers the backend refused
}

// NewAllocator returns an allocator over backend.
func NewAllocator(backend Backend) *Allocator {
	return &Allocator{backend: backend, created: map[string]ID{}, taken: map[ID]bool{}}
}

// Allocate returns the identity of l: an existing one when the view or this
// allocator knows one, else the lowest free number from MinCluster, created
// through the backend. A number the backend refuses is skipped and the next
// tried, which is how racing agents settle: the API server lets exactly one
// create each name.
func (a *Allocator) Allocate(ctx context.Context, v View, l Labels) (ID, error) {
	if id, ok := v.Find(l); ok {
		return id, nil
	}
	key := l.Key()
	a.mu.Lock()
	defer a.mu.Unlock()
	if id, ok := a.created[key]; ok {
		return id, nil
	}
	for id := MinCluster; id <= MaxCluster; id++ {
		if v.Taken(id) || a.taken[id] || a.isCreated(id) {
			continue
		}
		err := a.backend.Create(ctx, id, l)
		if errors.Is(err, ErrConflict) {
			a.taken[id] = true
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("create identity %d for %s: %w", id, l, err)
		}
		a.created[key] = id
		return id, nil
	}
	return 0, fmt.Errorf("allocate identity for %s: %w", l, ErrExhausted)
}

func (a *Allocator) isCreated(id ID) bool {
	for _, c := range a.created {
		if c == id {
			return true
		}
	}
	return false
}

// Forget drops what the allocator remembers about numbers the view now
// covers (or that were deleted), so its memory stays bounded: call it after
// the view caught up.
func (a *Allocator) Forget(v View) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, id := range a.created {
		if v.Taken(id) {
			delete(a.created, k)
		}
	}
	for id := range a.taken {
		if v.Taken(id) {
			delete(a.taken, id)
		}
	}
}
