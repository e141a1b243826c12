package art

import "sync/atomic"

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

	// Children: in labels/kids, sorted by label, while there are at most
	// smallMax; otherwise in full, indexed by label.
	numKids int
	labels  [smallMax]byte
	kids    [smallMax]*node[V]
	full    *[256]*node[V]
}

func (n *node[V]) child(b byte) *node[V] {
	if n.full != nil {
		return n.full[b]
	}
	for i, l := range n.labels[:n.numKids] {
		if l == b {
			return n.kids[i]
		}
	}
	return nil
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
	i := 0
	for ; i < n.numKids; i++ {
		if n.labels[i] == b {
			n.kids[i] = c
			return
		}
		if n.labels[i] > b {
			break
		}
	}
	if n.numKids == smallMax {
		full := new([256]*node[V])
		for j, l := range n.labels {
			full[l] = n.kids[j]
		}
		full[b] = c
		n.full = full
		n.kids = [smallMax]*node[V]{}
		n.numKids++
		return
	}
	copy(n.labels[i+1:n.numKids+1], n.labels[i:n.numKids])
	copy(n.kids[i+1:n.numKids+1], n.kids[i:n.numKids])
	n.labels[i], n.kids[i] = b, c
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
			full := n.full
			n.full = nil
			k := 0
			for l, c := range full {
				if c != nil {
					n.labels[k], n.kids[k] = byte(l), c
					k++
				}
			}
		}
		return
	}
	for i := 0; i < n.numKids; i++ {
		if n.labels[i] == b {
			copy(n.labels[i:], n.labels[i+1:n.numKids])
			copy(n.kids[i:], n.kids[i+1:n.numKids])
			n.numKids--
			n.kids[n.numKids] = nil
			return
		}
	}
}

// onlyChild returns the single child of a node that has exactly one.
func (n *node[V]) onlyChild() *node[V] {
	if n.full != nil {
		for _, c := range n.full {
			if c != nil {
				return c
			}
		}
	}
	return n.kids[0]
}

// anyKey returns a key stored under n (n has at least one).
func (n *node[V]) anyKey() []byte {
	for !n.hasVal {
		if n.full != nil {
			n = n.onlyChild()
		} else {
			n = n.kids[0]
		}
	}
	return n.key
}
