package art

import (
	"encoding/binary"
	"math/bits"
	"sync/atomic"
)

// smallMax is the most children a small node holds before it becomes a
// 256-slot node; a 256-slot node shrinks back when it drops to shrinkAt.
const (
	smallMax = 16
	shrinkAt = 8
)

// owners hands out the identities of write transactions (and of each
// frozen stage of one). Zero owns nothing.
var owners atomic.Uint64

type node[V any] struct {
	// owner is the transaction that made this node and may still mutate
	// it; any other transaction copies it first.
	owner uint64
	// prefix is the part of the key this node consumes, its first byte
	// being the label under which its parent holds it. It is a slice of
	// some key stored below, so it costs no allocation of its own.
	prefix []byte
	// watch is closed when a commit replaces this node.
	watch chan struct{}

	// The key that ends at this node, if any.
	key    []byte
	val    V
	hasVal bool

	// Children live out of line, so that leaves, most of the nodes, stay
	// small: in small, sorted by label, while there are at most smallMax;
	// otherwise in full, indexed by label. An owned node owns these too.
	numKids int32
	small   *smallKids[V]
	full    *[256]*node[V]
}

type smallKids[V any] struct {
	labels [smallMax]byte
	kids   [smallMax]*node[V]
}

func (n *node[V]) child(b byte) *node[V] {
	if n.full != nil {
		return n.full[b]
	}
	if s := n.small; s != nil {
		if i := s.find(b, int(n.numKids)); i >= 0 {
			return s.kids[i]
		}
	}
	return nil
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// find returns the position of label b among the first k, or -1. It
// compares eight labels at a time: x has a zero byte where a label equals
// b, and the lowest high bit of the mask marks the first zero byte (the
// bit trick can only misfire above a real zero byte). Labels are unique,
// and any match at or past k is stale.
func (s *smallKids[V]) find(b byte, k int) int {
	for half := 0; half < smallMax && half < k; half += 8 {
		x := binary.LittleEndian.Uint64(s.labels[half:]) ^ (ones * uint64(b))
		if m := (x - ones) &^ x & highs; m != 0 {
			if i := half + bits.TrailingZeros64(m)>>3; i < k {
				return i
			}
			return -1
		}
	}
	return -1
}

// setChild sets or replaces the child under label b. Only on owned nodes.
func (n *node[V]) setChild(b byte, c *node[V]) {
	if n.full != nil {
		if n.full[b] == nil {
			n.numKids++
		}
		n.full[b] = c
		return
	}
	s := n.small
	if s == nil {
		s = new(smallKids[V])
		n.small = s
	}
	k := int(n.numKids)
	i := 0
	for ; i < k; i++ {
		if s.labels[i] == b {
			s.kids[i] = c
			return
		}
		if s.labels[i] > b {
			break
		}
	}
	if k == smallMax {
		full := new([256]*node[V])
		for j, l := range s.labels {
			full[l] = s.kids[j]
		}
		full[b] = c
		n.full, n.small = full, nil
		n.numKids++
		return
	}
	copy(s.labels[i+1:k+1], s.labels[i:k])
	copy(s.kids[i+1:k+1], s.kids[i:k])
	s.labels[i], s.kids[i] = b, c
	n.numKids++
}

// removeChild removes the child under label b. Only on owned nodes.
func (n *node[V]) removeChild(b byte) {
	if n.full != nil {
		if n.full[b] == nil {
			return
		}
		n.full[b] = nil
		n.numKids--
		if n.numKids <= shrinkAt {
			s := new(smallKids[V])
			k := 0
			for l, c := range n.full {
				if c != nil {
					s.labels[k], s.kids[k] = byte(l), c
					k++
				}
			}
			n.full, n.small = nil, s
		}
		return
	}
	s := n.small
	k := int(n.numKids)
	for i := 0; i < k; i++ {
		if s.labels[i] == b {
			copy(s.labels[i:], s.labels[i+1:k])
			copy(s.kids[i:], s.kids[i+1:k])
			n.numKids--
			s.kids[k-1] = nil
			return
		}
	}
}

// firstChild returns the child with the lowest label (n has children).
func (n *node[V]) firstChild() *node[V] {
	if n.full != nil {
		for _, c := range n.full {
			if c != nil {
				return c
			}
		}
	}
	return n.small.kids[0]
}

// anyKey returns a key stored under n (n has at least one).
func (n *node[V]) anyKey() []byte {
	for !n.hasVal {
		n = n.firstChild()
	}
	return n.key
}

// kids returns the children in label order, for iteration. A 256-slot
// node's slice has nils.
func (n *node[V]) kids() []*node[V] {
	if n.full != nil {
		return n.full[:]
	}
	if n.small != nil {
		return n.small.kids[:n.numKids]
	}
	return nil
}
