package bpfmap

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// UpdateBatch stores values[i] under keys[i] for every i, with the kernel's
// batch update where it can. failed is called with the index and error of
// every entry that could not be stored; the others are stored regardless.
//
// The kernel stops a batch at the first entry it rejects and says how many
// it applied, so that entry is retried alone (to learn its own error) and
// the batch resumes after it.
func (m *Map[K, V]) UpdateBatch(keys []K, values []V, failed func(i int, err error)) {
	if len(keys) != len(values) {
		panic(fmt.Sprintf("bpfmap %s: UpdateBatch with %d keys and %d values", m.spec.Name, len(keys), len(values)))
	}
	for i := 0; i < len(keys); {
		if !m.noBatchUpdate.Load() {
			n, err := m.m.BatchUpdate(keys[i:], values[i:], nil)
			if err == nil {
				return
			}
			if errors.Is(err, ebpf.ErrNotSupported) {
				m.noBatchUpdate.Store(true)
				continue
			}
			i += n
			if i >= len(keys) {
				return
			}
		}
		if err := m.update(&keys[i], &values[i]); err != nil {
			failed(i, err)
		}
		i++
	}
}

// DeleteBatch removes keys, with the kernel's batch delete where it can.
// Missing keys are not an error. failed is called with the index and error
// of every key that could not be removed.
func (m *Map[K, V]) DeleteBatch(keys []K, failed func(i int, err error)) {
	if m.spec.Type == ebpf.Array {
		// Array entries cannot be removed, only zeroed.
		m.UpdateBatch(keys, make([]V, len(keys)), failed)
		return
	}
	for i := 0; i < len(keys); {
		if !m.noBatchDelete.Load() {
			n, err := m.m.BatchDelete(keys[i:], nil)
			if err == nil {
				return
			}
			if errors.Is(err, ebpf.ErrNotSupported) {
				m.noBatchDelete.Store(true)
				continue
			}
			// Typically ErrKeyNotExist for keys[i+n]: the kernel gives up on
			// the whole remainder for one missing key.
			i += n
			if i >= len(keys) {
				return
			}
		}
		if err := m.delete(&keys[i]); err != nil {
			failed(i, err)
		}
		i++
	}
}
