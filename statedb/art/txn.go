package art

// Txn is a write transaction on a [Tree]. It is not safe for concurrent
// use. Its reads see its own writes.
//
// Nodes the transaction copied are mutated in place by its later writes,
// so a tree obtained from it with [Txn.Freeze] or [Txn.Commit] is made
// immutable by giving the transaction a new identity: its next writes copy
// again.
type Txn[V any] struct {
	root  *node[V]
	size  int
	owner uint64
	// closeOnNotify holds the watch channels of the committed nodes this
	// transaction replaced.
	closeOnNotify []chan struct{}
	// inline backs closeOnNotify for the common small transaction.
	inline [4]chan struct{}
	// noWatch: nobody watches this tree; make and close no channels.
	noWatch bool
}

// NoWatch makes the transaction give the nodes it writes no watch
// channels and close none, for a tree whose readers never watch it.
// [Tree.GetWatch] and [Tree.Prefix] on its result may return nil channels.
func (t *Txn[V]) NoWatch() { t.noWatch = true }

// GetWatch is [Tree.GetWatch] on the transaction's current tree. The
// channel does not close on the transaction's own later writes.
func (t *Txn[V]) GetWatch(key []byte) (V, bool, <-chan struct{}) { return getWatch(t.root, key) }

func (t *Txn[V]) newChan() chan struct{} {
	if t.noWatch {
		return nil
	}
	return make(chan struct{})
}

// Reset makes txn a new transaction on tree, as [Tree.Txn] would return,
// reusing txn's memory: for callers that keep transactions inside a larger
// allocation. Channels not yet notified are dropped.
func (t *Txn[V]) Reset(tree Tree[V]) {
	*t = Txn[V]{root: tree.root, size: tree.size, owner: owners.Add(1)}
	t.closeOnNotify = t.inline[:0]
}

// Len returns the number of keys, including this transaction's writes.
func (t *Txn[V]) Len() int { return t.size }

// Get returns the value under key, including this transaction's writes.
func (t *Txn[V]) Get(key []byte) (V, bool) { return get(t.root, key) }

// Freeze returns the tree as written so far. Later writes of the
// transaction do not change it.
func (t *Txn[V]) Freeze() Tree[V] {
	t.owner = owners.Add(1)
	return Tree[V]{root: t.root, size: t.size}
}

// Commit returns the tree as written. The transaction stays usable; call
// [Txn.Notify] once the tree is visible to readers.
func (t *Txn[V]) Commit() Tree[V] { return t.Freeze() }

// Notify closes the watch channels of every node the transaction replaced
// since it started or since the last Notify. Call it after publishing the
// committed tree, so that a woken reader finds the change.
func (t *Txn[V]) Notify() {
	for _, ch := range t.closeOnNotify {
		close(ch)
	}
	clear(t.closeOnNotify)
	t.closeOnNotify = t.closeOnNotify[:0]
}

// writable returns n if this transaction owns it, or an owned copy.
func (t *Txn[V]) writable(n *node[V]) *node[V] {
	if n.owner == t.owner {
		return n
	}
	c := new(node[V])
	*c = *n
	c.owner = t.owner
	if n.full != nil {
		full := *n.full
		c.full = &full
	} else if n.small != nil {
		small := *n.small
		c.small = &small
	}
	t.replaced(n)
	c.watch = t.newChan()
	return c
}

// replaced records that n left the tree. A node this transaction made
// after its last Freeze was never visible outside it, and a node made
// before is only replaced once: the channel list has no duplicates.
func (t *Txn[V]) replaced(n *node[V]) {
	if n.owner != t.owner && n.watch != nil {
		t.closeOnNotify = append(t.closeOnNotify, n.watch)
	}
}

func (t *Txn[V]) newLeaf(prefix, key []byte, v V) *node[V] {
	return &node[V]{owner: t.owner, prefix: prefix, watch: t.newChan(), key: key, val: v, hasVal: true}
}

// Insert stores v under key and returns the value it replaced. The tree
// keeps key: the caller must not modify it afterwards.
func (t *Txn[V]) Insert(key []byte, v V) (old V, hadOld bool) {
	t.root, old, hadOld = t.insert(t.root, key, key, v)
	if !hadOld {
		t.size++
	}
	return old, hadOld
}

// insert stores v under key in the subtree n, where rest is what remains
// of key at n (n's prefix included), and returns the subtree's new root.
func (t *Txn[V]) insert(n *node[V], key, rest []byte, v V) (*node[V], V, bool) {
	p := n.prefix
	c := 0
	for c < len(p) && c < len(rest) && p[c] == rest[c] {
		c++
	}
	if c < len(p) {
		// The key leaves n's prefix half way: split the prefix.
		var zero V
		parent := &node[V]{owner: t.owner, prefix: p[:c], watch: t.newChan()}
		nw := t.writable(n)
		nw.prefix = p[c:]
		parent.setChild(nw.prefix[0], nw)
		if c == len(rest) {
			parent.key, parent.val, parent.hasVal = key, v, true
		} else {
			parent.setChild(rest[c], t.newLeaf(rest[c:], key, v))
		}
		return parent, zero, false
	}
	rest = rest[c:]
	nw := t.writable(n)
	if len(rest) == 0 {
		old, had := nw.val, nw.hasVal
		nw.key, nw.val, nw.hasVal = key, v, true
		return nw, old, had
	}
	child := nw.child(rest[0])
	if child == nil {
		var zero V
		nw.setChild(rest[0], t.newLeaf(rest, key, v))
		return nw, zero, false
	}
	nc, old, had := t.insert(child, key, rest, v)
	if nc != child {
		nw.setChild(rest[0], nc)
	}
	return nw, old, had
}

// Delete removes key and returns the value it had.
func (t *Txn[V]) Delete(key []byte) (old V, hadOld bool) {
	nr, old, hadOld := t.delete(t.root, key, 0, true)
	if hadOld {
		t.root = nr
		t.size--
	}
	return old, hadOld
}

// delete removes key from the subtree n whose prefix starts at byte depth
// of the key. It returns the subtree's new root (nil if it became empty;
// never for the tree's root).
func (t *Txn[V]) delete(n *node[V], key []byte, depth int, isRoot bool) (*node[V], V, bool) {
	var zero V
	p := n.prefix
	rest := key[depth:]
	if len(rest) < len(p) || string(rest[:len(p)]) != string(p) {
		return n, zero, false
	}
	rest = rest[len(p):]
	if len(rest) == 0 {
		if !n.hasVal {
			return n, zero, false
		}
		old := n.val
		if n.numKids == 0 && !isRoot {
			// The whole node goes: no need to copy it first.
			t.replaced(n)
			return nil, old, true
		}
		nw := t.writable(n)
		nw.key, nw.val, nw.hasVal = nil, zero, false
		return t.compact(nw, depth, isRoot), old, true
	}
	child := n.child(rest[0])
	if child == nil {
		return n, zero, false
	}
	nc, old, had := t.delete(child, key, depth+len(p), false)
	if !had {
		return n, zero, false
	}
	nw := t.writable(n)
	if nc == nil {
		nw.removeChild(rest[0])
	} else if nc != child {
		nw.setChild(rest[0], nc)
	}
	return t.compact(nw, depth, isRoot), old, true
}

// compact removes an owned node left without a key and children, and
// merges one left without a key and with one child into that child.
func (t *Txn[V]) compact(n *node[V], depth int, isRoot bool) *node[V] {
	if isRoot || n.hasVal || n.numKids > 1 {
		return n
	}
	// n is owned: the node it was copied from is already recorded.
	if n.numKids == 0 {
		return nil
	}
	c := t.writable(n.firstChild())
	c.prefix = c.anyKey()[depth : depth+len(n.prefix)+len(c.prefix)]
	return c
}

// DeleteAll removes every key. Every watch channel of the tree closes on
// Notify.
func (t *Txn[V]) DeleteAll() {
	if !t.noWatch {
		t.root.visit(func(n *node[V]) { t.replaced(n) })
	}
	t.root = &node[V]{owner: t.owner, watch: t.newChan()}
	t.size = 0
}

func (n *node[V]) visit(f func(*node[V])) {
	f(n)
	for _, c := range n.kids() {
		if c != nil {
			c.visit(f)
		}
	}
}
