package bpfmap

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/cilium/ebpf"

	"github.com/hivenet/hivenet/reconcilers"
)

// Ops reconciles objects of type T into a [Map]: each object is one entry,
// with the key and value its KeyOf and ValueOf functions give. It implements
// reconcilers.Operations and reconcilers.BatchOperations.
type Ops[T any, K comparable, V any] struct {
	m       *Map[K, V]
	keyOf   func(T) K
	valueOf func(T) V

	// mu guards the scratch slices, reused across batches so the hot path
	// allocates nothing per object.
	mu     sync.Mutex
	keys   []K
	values []V
	key    K
	value  V
}

var (
	_ reconcilers.Operations[int]      = (*Ops[int, uint32, uint32])(nil)
	_ reconcilers.BatchOperations[int] = (*Ops[int, uint32, uint32])(nil)
)

// NewOps returns Operations writing objects into m. keyOf and valueOf must
// be pure: the same object always gives the same key and value.
func NewOps[T any, K comparable, V any](m *Map[K, V], keyOf func(T) K, valueOf func(T) V) *Ops[T, K, V] {
	return &Ops[T, K, V]{m: m, keyOf: keyOf, valueOf: valueOf}
}

// Map returns the map the operations write to.
func (o *Ops[T, K, V]) Map() *Map[K, V] { return o.m }

// Update stores obj's entry. The key and value live in the Ops, not on
// the stack: handed to the kernel through an interface they would escape
// and cost an allocation per object.
func (o *Ops[T, K, V]) Update(_ context.Context, obj T) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.key, o.value = o.keyOf(obj), o.valueOf(obj)
	return o.m.update(&o.key, &o.value)
}

// Delete removes obj's entry.
func (o *Ops[T, K, V]) Delete(_ context.Context, obj T) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.key = o.keyOf(obj)
	return o.m.delete(&o.key)
}

// UpdateBatch stores the entries of the whole batch, with one batch syscall
// when nothing fails.
func (o *Ops[T, K, V]) UpdateBatch(_ context.Context, batch []reconcilers.BatchEntry[T]) {
	o.mu.Lock()
	defer o.mu.Unlock()
	keys, values := o.keys[:0], o.values[:0]
	for i := range batch {
		keys = append(keys, o.keyOf(batch[i].Object))
		values = append(values, o.valueOf(batch[i].Object))
	}
	o.keys, o.values = keys, values
	o.m.UpdateBatch(keys, values, func(i int, err error) { batch[i].Result = err })
}

// DeleteBatch removes the entries of the whole batch.
func (o *Ops[T, K, V]) DeleteBatch(_ context.Context, batch []reconcilers.BatchEntry[T]) {
	o.mu.Lock()
	defer o.mu.Unlock()
	keys := o.keys[:0]
	for i := range batch {
		keys = append(keys, o.keyOf(batch[i].Object))
	}
	o.keys = keys
	o.m.DeleteBatch(keys, func(i int, err error) { batch[i].Result = err })
}

// Prune removes every entry whose key none of objects has. In an array,
// entries no object asks for are zeroed instead, and zero entries are left
// alone.
func (o *Ops[T, K, V]) Prune(_ context.Context, objects iter.Seq[T]) error {
	wanted := make(map[K]struct{})
	for obj := range objects {
		wanted[o.keyOf(obj)] = struct{}{}
	}
	var stale []K
	isArray := o.m.spec.Type == ebpf.Array
	err := o.m.Walk(func(keys []K, values []V) error {
		for i := range keys {
			if _, ok := wanted[keys[i]]; ok {
				continue
			}
			if isArray && isZero(&values[i]) {
				continue
			}
			stale = append(stale, keys[i])
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	var errs []error
	o.m.DeleteBatch(stale, func(i int, err error) {
		if len(errs) < 5 {
			errs = append(errs, fmt.Errorf("key %v: %w", stale[i], err))
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("prune %s: %w", o.m.spec.Name, errors.Join(errs...))
	}
	return nil
}
