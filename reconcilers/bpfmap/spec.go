package bpfmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// ErrLayout is returned by [New] when the key or value type cannot be a BPF
// map key or value as declared: it has implicit padding, pointers or
// variable-size fields, or the wrong size for the map type.
var ErrLayout = errors.New("bad BPF map layout")

// Spec describes a BPF map. Key and value sizes come from the Go types given
// to [New].
type Spec struct {
	// Name is the map's name in the kernel (truncated there to 15 bytes) and
	// its pin file name under PinDir.
	Name string
	// Type is one of ebpf.Hash, ebpf.LRUHash, ebpf.LPMTrie or ebpf.Array.
	Type ebpf.MapType
	// MaxEntries bounds the map; for an array it is its length.
	MaxEntries uint32
	// Flags are extra BPF_F_* map flags. LPM tries always get
	// BPF_F_NO_PREALLOC, which the kernel requires of them.
	Flags uint32
	// PinDir is the bpffs directory the map is pinned in, created if
	// missing. Empty means not pinned: the map dies with its last user.
	PinDir string
}

// PinPath is where the map is pinned, or "" if it is not.
func (s Spec) PinPath() string {
	if s.PinDir == "" {
		return ""
	}
	return filepath.Join(s.PinDir, s.Name)
}

func (s Spec) mapSpec(keySize, valueSize uint32) *ebpf.MapSpec {
	ms := &ebpf.MapSpec{
		Name:       s.Name,
		Type:       s.Type,
		KeySize:    keySize,
		ValueSize:  valueSize,
		MaxEntries: s.MaxEntries,
		Flags:      s.Flags,
	}
	if s.Type == ebpf.LPMTrie {
		ms.Flags |= unix.BPF_F_NO_PREALLOC
	}
	if s.PinDir != "" {
		ms.Pinning = ebpf.PinByName
	}
	return ms
}

// fixedSize returns the in-memory size of T if T's memory is exactly its
// binary encoding: fixed size and no implicit padding. Then a *T or []T can
// be handed to the kernel as is, with no marshalling and no allocation.
func fixedSize[T any]() (uint32, error) {
	var zero T
	mem := int(unsafe.Sizeof(zero))
	enc := binary.Size(zero)
	switch {
	case enc < 0:
		return 0, fmt.Errorf("%T has pointers or variable-size fields: %w", zero, ErrLayout)
	case enc != mem:
		return 0, fmt.Errorf("%T is %d bytes in memory but %d encoded: make its padding explicit with `_ [n]byte` fields: %w",
			zero, mem, enc, ErrLayout)
	case mem == 0:
		return 0, fmt.Errorf("%T has size zero: %w", zero, ErrLayout)
	}
	return uint32(mem), nil
}

func (s Spec) validate(keySize uint32) error {
	if s.Name == "" {
		return errors.New("bpfmap: Spec.Name is empty; it names the map and its pin file")
	}
	if filepath.Base(s.Name) != s.Name {
		return fmt.Errorf("bpfmap: Spec.Name %q must be a plain file name", s.Name)
	}
	if s.MaxEntries == 0 {
		return fmt.Errorf("bpfmap: map %s: MaxEntries must be > 0", s.Name)
	}
	switch s.Type {
	case ebpf.Hash, ebpf.LRUHash:
	case ebpf.LPMTrie:
		if keySize <= 4 {
			return fmt.Errorf("bpfmap: LPM trie %s: key must be a 4-byte prefix length followed by data, got %d bytes: %w",
				s.Name, keySize, ErrLayout)
		}
	case ebpf.Array:
		if keySize != 4 {
			return fmt.Errorf("bpfmap: array %s: key must be 4 bytes (a uint32 index), got %d: %w", s.Name, keySize, ErrLayout)
		}
	default:
		return fmt.Errorf("bpfmap: map %s: type %s not supported (want Hash, LRUHash, LPMTrie or Array)", s.Name, s.Type)
	}
	return nil
}
