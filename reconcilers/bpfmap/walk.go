package bpfmap

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// walkChunk is how many entries one batch lookup asks for. It must exceed
// the longest hash bucket or the kernel answers ENOSPC; walk grows it then.
const walkChunk = 4096

// Walk calls fn with consecutive chunks of the map's entries until the map
// is exhausted or fn returns an error. The slices are reused between calls.
// Entries added or removed during the walk may or may not be seen, so fn
// must not modify the map; collect what to change and do it afterwards.
//
// Array maps yield every index, including zero-valued ones.
func (m *Map[K, V]) Walk(fn func(keys []K, values []V) error) error {
	if m.noBatchLookup.Load() {
		return m.walkIterate(fn)
	}
	size := walkChunk
	keys, values := make([]K, size), make([]V, size)
	var cursor ebpf.MapBatchCursor
	for {
		n, err := m.m.BatchLookup(&cursor, keys, values, nil)
		done := errors.Is(err, ebpf.ErrKeyNotExist)
		switch {
		case err == nil || done:
		case errors.Is(err, ebpf.ErrNotSupported) && n == 0:
			m.noBatchLookup.Store(true)
			return m.walkIterate(fn)
		case errors.Is(err, unix.ENOSPC) && n == 0:
			size *= 2
			keys, values = make([]K, size), make([]V, size)
			continue
		default:
			return fmt.Errorf("bpfmap %s: batch lookup: %w", m.spec.Name, err)
		}
		if n > 0 {
			if err := fn(keys[:n], values[:n]); err != nil {
				return err
			}
		}
		if done {
			return nil
		}
	}
}

// walkIterate is Walk for kernels or map types without batch lookup.
func (m *Map[K, V]) walkIterate(fn func(keys []K, values []V) error) error {
	keys, values := make([]K, 0, walkChunk), make([]V, 0, walkChunk)
	var k K
	var v V
	it := m.m.Iterate()
	for it.Next(&k, &v) {
		keys, values = append(keys, k), append(values, v)
		if len(keys) == cap(keys) {
			if err := fn(keys, values); err != nil {
				return err
			}
			keys, values = keys[:0], values[:0]
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("bpfmap %s: iterate: %w", m.spec.Name, err)
	}
	if len(keys) > 0 {
		return fn(keys, values)
	}
	return nil
}

// isZero reports whether v's memory is all zero bytes, which is how an
// unused array entry looks.
func isZero[V any](v *V) bool {
	b := unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
