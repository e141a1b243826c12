package statedb

import "iter"

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
	root   *revInner
	height uint // levels of inner nodes; the root covers 32^(height+1) revisions
	n      int  // objects in the tree
}

// revOwner marks the nodes one write transaction may mutate. Not zero
// sized: distinct owners must have distinct addresses.
type revOwner struct{ _ byte }

const (
	revBits   = 5
	revFanout = 1 << revBits
	revMask   = revFanout - 1
)

type revLeaf struct {
	owner *revOwner
	n     int32
	objs  [revFanout]*object
}

type revInner struct {
	owner  *revOwner
	n      int32
	inners [revFanout]*revInner // children when height > 1
	leaves [revFanout]*revLeaf  // children when height == 1
}

// covers reports whether a tree of the given height has a slot for rev.
func covers(height uint, rev Revision) bool {
	bits := revBits * (height + 1)
	return bits >= 64 || rev < 1<<bits
}

func (t *revTree) len() int { return t.n }

// set stores o at rev (nil deletes) and returns what was there, copying
// the nodes on the path that owner does not own.
func (t *revTree) set(owner *revOwner, rev Revision, o *object) *object {
	if t.root == nil {
		if o == nil {
			return nil
		}
		t.root, t.height = &revInner{owner: owner}, 1
	}
	for !covers(t.height, rev) {
		if o == nil {
			return nil
		}
		t.root = &revInner{owner: owner, n: t.root.n, inners: [revFanout]*revInner{t.root}}
		t.height++
	}
	if t.root.owner != owner {
		cp := *t.root
		cp.owner = owner
		t.root = &cp
	}
	old, delta := t.root.set(owner, t.height, rev, o)
	t.n += int(delta)
	if t.root.n == 0 {
		t.root, t.height = nil, 0
	}
	return old
}

// set works on an owned node.
func (n *revInner) set(owner *revOwner, height uint, rev Revision, o *object) (*object, int32) {
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

// from yields the objects with revision >= rev, in revision order.
func (t revTree) from(rev Revision) iter.Seq[*object] {
	return func(yield func(*object) bool) {
		if t.root != nil {
			t.root.ascend(t.height, 0, rev, yield)
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
	n := t.root
	if n == nil {
		return nil, false
	}
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
