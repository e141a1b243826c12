package bpfmap

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
)

// Map is a BPF map whose keys are K and values V, both fixed-size types
// whose memory is handed to the kernel as is.
//
// A Map is safe for concurrent use once opened.
type Map[K comparable, V any] struct {
	spec      Spec
	log       *slog.Logger
	keySize   uint32
	valueSize uint32

	m *ebpf.Map
	// Set once the kernel refused that batch syscall for this map type;
	// from then on only per-key calls are made. Kept apart because kernels
	// added batch support per operation and map type.
	noBatchUpdate, noBatchDelete, noBatchLookup atomic.Bool
	adopted                                     bool
}

// New validates spec against K and V and returns an unopened Map. It fails
// with [ErrLayout] when K or V cannot be map keys or values as declared.
func New[K comparable, V any](spec Spec, log *slog.Logger) (*Map[K, V], error) {
	ks, err := fixedSize[K]()
	if err != nil {
		return nil, fmt.Errorf("bpfmap %s: key: %w", spec.Name, err)
	}
	vs, err := fixedSize[V]()
	if err != nil {
		return nil, fmt.Errorf("bpfmap %s: value: %w", spec.Name, err)
	}
	if err := spec.validate(ks); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &Map[K, V]{spec: spec, log: log.With("map", spec.Name), keySize: ks, valueSize: vs}, nil
}

// Spec returns the map's specification.
func (m *Map[K, V]) Spec() Spec { return m.spec }

// Adopted reports whether Open found the map already pinned with the same
// layout and kept its contents.
func (m *Map[K, V]) Adopted() bool { return m.adopted }

// EBPF returns the underlying map, to hand to a program loader.
func (m *Map[K, V]) EBPF() *ebpf.Map { return m.m }

// Open creates the map, or adopts the one pinned at the spec's pin path if
// its type, key and value sizes, max entries and flags match. A pinned map
// whose layout differs is unpinned and recreated empty: the change is logged
// and counted in hivenet_bpfmap_layout_changes_total, because whatever the
// datapath had stored in it is gone.
func (m *Map[K, V]) Open() error {
	if m.m != nil {
		return fmt.Errorf("bpfmap %s: already open", m.spec.Name)
	}
	opts := ebpf.MapOptions{}
	if dir := m.spec.PinDir; dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("bpfmap %s: create pin directory: %w", m.spec.Name, err)
		}
		ok, err := IsBPFFS(dir)
		if err != nil {
			return fmt.Errorf("bpfmap %s: %w", m.spec.Name, err)
		}
		if !ok {
			return fmt.Errorf("bpfmap %s: pin directory %s: %w (mount one with bpfmap.EnsureBPFFS)", m.spec.Name, dir, ErrNotBPFFS)
		}
		opts.PinPath = dir
	}
	ms := m.spec.mapSpec(m.keySize, m.valueSize)
	_, statErr := os.Stat(m.spec.PinPath())
	wasPinned := m.spec.PinDir != "" && statErr == nil

	em, err := ebpf.NewMapWithOptions(ms, opts)
	if errors.Is(err, ebpf.ErrMapIncompatible) {
		m.log.Warn("Pinned BPF map has a different layout; recreating it empty",
			"path", m.spec.PinPath(), "reason", err)
		layoutChanges.WithLabelValues(m.spec.Name).Inc()
		if rmErr := os.Remove(m.spec.PinPath()); rmErr != nil {
			return fmt.Errorf("bpfmap %s: unpin incompatible map: %w", m.spec.Name, rmErr)
		}
		wasPinned = false
		em, err = ebpf.NewMapWithOptions(ms, opts)
	}
	if err != nil {
		return fmt.Errorf("bpfmap %s: create %s map: %w", m.spec.Name, m.spec.Type, err)
	}
	m.m = em
	m.adopted = wasPinned
	if wasPinned {
		m.log.Info("Adopted pinned BPF map", "path", m.spec.PinPath())
	}
	return nil
}

// Close releases the map's file descriptor. A pinned map stays in the
// kernel.
func (m *Map[K, V]) Close() error {
	if m.m == nil {
		return nil
	}
	err := m.m.Close()
	m.m = nil
	return err
}

// Unpin removes the pin, so the map is freed once the last user closes it.
func (m *Map[K, V]) Unpin() error {
	if m.spec.PinDir == "" {
		return nil
	}
	if err := os.Remove(m.spec.PinPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("bpfmap %s: unpin: %w", m.spec.Name, err)
	}
	return nil
}

// Lookup returns the value stored under k. It returns an error wrapping
// ebpf.ErrKeyNotExist if there is none.
func (m *Map[K, V]) Lookup(k K) (V, error) {
	var v V
	err := m.m.Lookup(unsafe.Pointer(&k), unsafe.Pointer(&v))
	return v, err
}

// Update stores v under k.
func (m *Map[K, V]) Update(k K, v V) error {
	return m.update(&k, &v)
}

func (m *Map[K, V]) update(k *K, v *V) error {
	if err := m.m.Update(unsafe.Pointer(k), unsafe.Pointer(v), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("bpfmap %s: update: %w", m.spec.Name, err)
	}
	return nil
}

// Delete removes k. Removing a missing key is not an error. In an array,
// where entries cannot be removed, it stores the zero value instead.
func (m *Map[K, V]) Delete(k K) error {
	return m.delete(&k)
}

func (m *Map[K, V]) delete(k *K) error {
	if m.spec.Type == ebpf.Array {
		var zero V
		return m.update(k, &zero)
	}
	err := m.m.Delete(unsafe.Pointer(k))
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("bpfmap %s: delete: %w", m.spec.Name, err)
	}
	return nil
}
