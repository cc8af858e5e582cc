package instance

import (
	"hash/maphash"
	"strings"
	"sync"
)

// A fleet's trees repeat themselves: every VM has the same object shapes, and most of
// its values and many of its objects (image, security profile, tags, subnets) are those
// of other VMs. Sharing what repeats keeps the memory of a tree close to that of the
// VM's own values. Nodes are immutable, so a shared node is indistinguishable from a
// copy.

// keySets maps a key list, joined by NUL, to the one copy that all objects with those
// keys use. It is bounded by the schema: trees of this package have no keys from data.
var keySets sync.Map

// internKeys returns the shared copy of a sorted key list.
func internKeys(keys []string) []string {
	if len(keys) == 0 {
		return nil
	}
	v, _ := keySets.LoadOrStore(strings.Join(keys, "\x00"), keys)
	return v.([]string)
}

// sharedObject is Object with shared keys, for the few objects built outside an
// interner.
func sharedObject(f Fields) *Node {
	n := Object(f)
	n.c.keys = internKeys(n.c.keys)
	return n
}

// interner builds tree nodes and makes equal ones a single node (hash-consing). Loading
// an inventory passes one interner through every VM's tree, so VMs share nodes with each
// other; the interner is dropped afterwards, so it costs nothing once loading is done.
// An interner is not safe for concurrent use.
type interner struct {
	leaves map[string]*Node // string leaves by value
	comps  map[uint64]*Node // objects and arrays by the hash of their members
	seed   maphash.Seed
}

func newInterner() *interner {
	return &interner{leaves: map[string]*Node{}, comps: map[uint64]*Node{}, seed: maphash.MakeSeed()}
}

// leaf returns the string leaf holding s.
func (t *interner) leaf(s string) *Node {
	if n, ok := t.leaves[s]; ok {
		return n
	}
	n := String(s)
	t.leaves[s] = n
	return n
}

// optional returns a leaf for a field served only when configured, or nil, which Object
// drops, when s is empty.
func (t *interner) optional(s string) *Node {
	if s == "" {
		return nil
	}
	return t.leaf(s)
}

// object returns the object with the members of f, nil members dropped.
func (t *interner) object(f Fields) *Node { return t.composite(sharedObject(f)) }

// array returns the array of elems.
func (t *interner) array(elems []*Node) *Node { return t.composite(Array(elems...)) }

// composite returns the node equal to n that t already has, or records n. Members are
// compared by identity, which is equality because they come from t too. On a hash
// collision the newer node is kept and sharing is merely lost.
func (t *interner) composite(n *Node) *Node {
	var h maphash.Hash
	h.SetSeed(t.seed)
	h.WriteByte(byte(n.kind))
	if len(n.c.keys) > 0 {
		maphash.WriteComparable(&h, &n.c.keys[0])
	}
	for _, kid := range n.c.kids {
		maphash.WriteComparable(&h, kid)
	}
	sum := h.Sum64()
	if m, ok := t.comps[sum]; ok && sameMembers(m, n) {
		return m
	}
	t.comps[sum] = n
	return n
}

// sameMembers reports whether a and b have the same kind, keys and member nodes.
func sameMembers(a, b *Node) bool {
	if a.kind != b.kind || len(a.c.kids) != len(b.c.kids) ||
		len(a.c.keys) > 0 && &a.c.keys[0] != &b.c.keys[0] {
		return false
	}
	for i, k := range a.c.kids {
		if b.c.kids[i] != k {
			return false
		}
	}
	return true
}
