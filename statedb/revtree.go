package statedb

import (
	"iter"
	"sync/atomic"
)

// revTree is the revision index: a persistent sparse array of objects
// indexed by revision, a trie of 32-way nodes.
//
// It replaces a radix tree for the two indexes keyed by revision (live
// objects, tombstones) because their keys are dense and only ever appended
// at the end: the radix tree there spent most of a write copying 256-edge
// nodes, making a watch channel per node nobody watches, and keeping its
// writable-node LRU. Here a write transaction owns the nodes it copied
// (they carry its owner token) and mutates them in place, so a batch of
// appends costs one leaf per 32 revisions and a delete copies at most one
// path per leaf it first touches.
//
// A revTree value is a snapshot: copying it is free, and nodes not owned by
// the writer are never mutated, so committed trees are immutable.
type revTree struct {
	root *revInner
	// leaf is the root instead while every object fits in one leaf
	// (height 0), as in a small table: one node to copy per transaction.
	leaf   *revLeaf
	height uint // levels of inner nodes; the root covers 32^(height+1) revisions
	// base is the first revision the root covers. The root covers only
	// the range the live revisions need, not all from zero: revisions grow
	// without bound while the live ones are usually recent, and every
	// level is one more node to copy per write transaction.
	base Revision
	n    int // objects in the tree
}

// revOwner marks the nodes one write transaction may mutate. Zero owns
// nothing; newRevOwner hands out the others.
type revOwner uint64

var revOwners atomic.Uint64

func newRevOwner() revOwner { return revOwner(revOwners.Add(1)) }

const (
	revBits   = 5
	revFanout = 1 << revBits
	revMask   = revFanout - 1
)

type revLeaf struct {
	owner revOwner
	n     int32
	objs  [revFanout]*object
}

type revInner struct {
	owner  revOwner
	n      int32
	inners [revFanout]*revInner // children when height > 1
	leaves [revFanout]*revLeaf  // children when height == 1
}

// covers reports whether the tree has a slot for rev.
func (t *revTree) covers(rev Revision) bool {
	bits := revBits * (t.height + 1)
	return bits >= 64 || rev>>bits == t.base>>bits
}

// alignDown returns rev with its low bits cleared.
func alignDown(rev Revision, bits uint) Revision {
	if bits >= 64 {
		return 0
	}
	return rev >> bits << bits
}

func (t *revTree) len() int { return t.n }

// set stores o at rev (nil deletes) and returns what was there, copying
// the nodes on the path that owner does not own.
func (t *revTree) set(owner revOwner, rev Revision, o *object) *object {
	if o == nil {
		// Deleting: copy nothing if there is nothing to delete, and drop
		// the tree whole if it is the last object, as a revision index
		// with one object updated per transaction would have it.
		old := t.get(rev)
		if old == nil {
			return nil
		}
		if t.n == 1 {
			*t = revTree{}
			return old
		}
	}
	if t.n == 0 {
		if o == nil {
			return nil
		}
		t.leaf, t.height = &revLeaf{owner: owner}, 0
		t.base = alignDown(rev, revBits)
	}
	for !t.covers(rev) {
		if o == nil {
			return nil
		}
		// Grow: the old root becomes a child of a root one level up.
		bits := revBits * (t.height + 1)
		nr := &revInner{owner: owner}
		if t.height == 0 {
			nr.n = t.leaf.n
			nr.leaves[(t.base>>bits)&revMask] = t.leaf
			t.leaf = nil
		} else {
			nr.n = t.root.n
			nr.inners[(t.base>>bits)&revMask] = t.root
		}
		t.root = nr
		t.height++
		t.base = alignDown(t.base, bits+revBits)
	}
	if t.height == 0 {
		leaf := t.leaf
		if leaf.owner != owner {
			cp := *leaf
			cp.owner = owner
			leaf = &cp
			t.leaf = leaf
		}
		j := rev & revMask
		old := leaf.objs[j]
		leaf.objs[j] = o
		switch {
		case old == nil && o != nil:
			leaf.n++
			t.n++
		case old != nil && o == nil:
			leaf.n--
			t.n--
		}
		if t.n == 0 {
			*t = revTree{}
		}
		return old
	}
	if t.root.owner != owner {
		cp := *t.root
		cp.owner = owner
		t.root = &cp
	}
	old, delta := t.root.set(owner, t.height, rev, o)
	t.n += int(delta)
	if t.root.n == 0 {
		*t = revTree{}
	} else if o == nil {
		t.shrink()
	}
	return old
}

// shrink drops root levels that have a single child.
func (t *revTree) shrink() {
	for t.height > 1 {
		only := -1
		for i, c := range t.root.inners {
			if c != nil {
				if only >= 0 {
					return
				}
				only = i
			}
		}
		t.base += Revision(only) << (revBits * t.height)
		t.root = t.root.inners[only]
		t.height--
	}
	only := -1
	for i, l := range t.root.leaves {
		if l != nil {
			if only >= 0 {
				return
			}
			only = i
		}
	}
	t.base += Revision(only) << revBits
	t.leaf, t.root, t.height = t.root.leaves[only], nil, 0
}

// set works on an owned node.
func (n *revInner) set(owner revOwner, height uint, rev Revision, o *object) (*object, int32) {
	i := (rev >> (revBits * height)) & revMask
	if height == 1 {
		leaf := n.leaves[i]
		if leaf == nil {
			if o == nil {
				return nil, 0
			}
			leaf = &revLeaf{owner: owner}
			n.leaves[i] = leaf
		} else if leaf.owner != owner {
			cp := *leaf
			cp.owner = owner
			leaf = &cp
			n.leaves[i] = leaf
		}
		j := rev & revMask
		old := leaf.objs[j]
		leaf.objs[j] = o
		var delta int32
		switch {
		case old == nil && o != nil:
			delta = 1
		case old != nil && o == nil:
			delta = -1
		}
		leaf.n += delta
		n.n += delta
		if leaf.n == 0 {
			n.leaves[i] = nil
		}
		return old, delta
	}
	child := n.inners[i]
	if child == nil {
		if o == nil {
			return nil, 0
		}
		child = &revInner{owner: owner}
		n.inners[i] = child
	} else if child.owner != owner {
		cp := *child
		cp.owner = owner
		child = &cp
		n.inners[i] = child
	}
	old, delta := child.set(owner, height-1, rev, o)
	n.n += delta
	if child.n == 0 {
		n.inners[i] = nil
	}
	return old, delta
}

func (t *revTree) get(rev Revision) *object {
	if t.n == 0 || !t.covers(rev) {
		return nil
	}
	if t.height == 0 {
		return t.leaf.objs[rev&revMask]
	}
	n := t.root
	for h := t.height; h > 1; h-- {
		if n = n.inners[(rev>>(revBits*h))&revMask]; n == nil {
			return nil
		}
	}
	leaf := n.leaves[(rev>>revBits)&revMask]
	if leaf == nil {
		return nil
	}
	return leaf.objs[rev&revMask]
}

// ceil returns the object with the lowest revision at or above rev, or
// nil. Stepping through a tree with it needs no iterator state, so two
// trees can be merged without a coroutine.
func (t revTree) ceil(rev Revision) *object {
	if t.n == 0 {
		return nil
	}
	rev = max(rev, t.base)
	if !t.covers(rev) {
		return nil
	}
	if t.height == 0 {
		for j := rev & revMask; j < revFanout; j++ {
			if o := t.leaf.objs[j]; o != nil {
				return o
			}
		}
		return nil
	}
	return t.root.ceil(t.height, rev)
}

func (n *revInner) ceil(height uint, rev Revision) *object {
	shift := revBits * height
	for i := (rev >> shift) & revMask; i < revFanout; i++ {
		if height == 1 {
			if leaf := n.leaves[i]; leaf != nil {
				for j := rev & revMask; j < revFanout; j++ {
					if o := leaf.objs[j]; o != nil {
						return o
					}
				}
			}
		} else if c := n.inners[i]; c != nil {
			if o := c.ceil(height-1, rev); o != nil {
				return o
			}
		}
		// On to the start of the next child's range.
		rev = (rev>>shift + 1) << shift
	}
	return nil
}

// from yields the objects with revision >= rev, in revision order.
func (t revTree) from(rev Revision) iter.Seq[*object] {
	return func(yield func(*object) bool) {
		switch {
		case t.n == 0:
		case t.height == 0:
			for j, o := range t.leaf.objs {
				if o != nil && t.base+Revision(j) >= rev && !yield(o) {
					return
				}
			}
		default:
			t.root.ascend(t.height, t.base, rev, yield)
		}
	}
}

func (n *revInner) ascend(height uint, base, from Revision, yield func(*object) bool) bool {
	shift := revBits * height
	for i := range Revision(revFanout) {
		lo := base + i<<shift
		if span := Revision(1) << shift; lo+span-1 < from {
			continue
		}
		if height > 1 {
			if c := n.inners[i]; c != nil && !c.ascend(height-1, lo, from, yield) {
				return false
			}
			continue
		}
		leaf := n.leaves[i]
		if leaf == nil {
			continue
		}
		for j, o := range leaf.objs {
			if o != nil && lo+Revision(j) >= from && !yield(o) {
				return false
			}
		}
	}
	return true
}

// last returns the object with the highest revision.
func (t revTree) last() (*object, bool) {
	if t.n == 0 {
		return nil, false
	}
	if t.height == 0 {
		for j := revFanout - 1; j >= 0; j-- {
			if o := t.leaf.objs[j]; o != nil {
				return o, true
			}
		}
	}
	n := t.root
	for h := t.height; ; h-- {
		for i := revFanout - 1; i >= 0; i-- {
			if h == 1 {
				if leaf := n.leaves[i]; leaf != nil {
					for j := revFanout - 1; j >= 0; j-- {
						if o := leaf.objs[j]; o != nil {
							return o, true
						}
					}
				}
				continue
			}
			if c := n.inners[i]; c != nil {
				n = c
				break
			}
		}
		if h == 1 {
			return nil, false
		}
	}
}
