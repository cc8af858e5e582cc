package instance

import "sync/atomic"

// treeCache holds the trees an instance has served, each under its slot: 2*bucket for
// the plain tree and 2*bucket+1 with the extended object. A VM asks for one or two
// api-versions, so a short list replaced as a whole on each addition is smaller than a
// slot per bucket and lets readers go without locks.
type treeCache struct {
	p atomic.Pointer[[]cachedTree]
}

type cachedTree struct {
	slot int
	tree *Node
}

func (c *treeCache) load(slot int) *Node {
	if l := c.p.Load(); l != nil {
		for _, t := range *l {
			if t.slot == slot {
				return t.tree
			}
		}
	}
	return nil
}

// store adds t unless another goroutine stored the slot first, and returns the tree
// stored, so that every caller shares one copy.
func (c *treeCache) store(slot int, t *Node) *Node {
	for {
		old := c.p.Load()
		var l []cachedTree
		if old != nil {
			for _, e := range *old {
				if e.slot == slot {
					return e.tree
				}
			}
			l = append(make([]cachedTree, 0, len(*old)+1), *old...)
		}
		l = append(l, cachedTree{slot, t})
		if c.p.CompareAndSwap(old, &l) {
			return t
		}
	}
}

// Tree returns the /metadata/instance document as Azure serves it at apiVersion: the
// "compute" and "network" objects with each field present only from the api-version
// that introduced it, and with extended the "extended" object of reference §2.9.
// Versions before 2017-04-02 (the 2017-03-01 preview) get the 2017-04-02 field set.
//
// The tree is built once per field set and kept, so a later call is a lookup. It is
// shared: callers must treat it as read-only, as the Node API ensures.
func (in *Instance) Tree(apiVersion string, extended bool) *Node {
	b := bucketIndex(apiVersion)
	if !extended {
		return in.plainTree(b)
	}
	if t := in.trees.load(2*b + 1); t != nil {
		return t
	}
	plain := in.plainTree(b)
	compute, _ := plain.Get("compute")
	network, _ := plain.Get("network")
	t := sharedObject(Fields{"compute": compute, "network": network, "extended": in.extendedNode()})
	return in.trees.store(2*b+1, t)
}

// plainTree returns the tree of bucket b without the extended object. The newest one is
// built from the model; older ones are pruned from it and share every subtree that did
// not change, so a second version costs little more than its changed objects.
func (in *Instance) plainTree(b int) *Node {
	if t := in.trees.load(2 * b); t != nil {
		return t
	}
	newest := len(buckets) - 1
	if b == newest {
		return in.prepare(newInterner())
	}
	return in.trees.store(2*b, prune(in.plainTree(newest), rootSchema, buckets[b]))
}

// prepare builds and keeps the newest tree, with t so that it shares nodes with the
// trees of the other VMs t has built. Overrides that name nothing are skipped here;
// Normalize reports them.
func (in *Instance) prepare(t *interner) *Node {
	tree, _ := applyOverrides(in.buildTree(t), in.Overrides)
	return in.trees.store(2*(len(buckets)-1), tree)
}

// defaultExtended is the extended object of nearly every VM, shared by all of them.
var defaultExtended = extendedObject("false", "None")

func (in *Instance) extendedNode() *Node {
	e := in.Extended.Compute
	hasCustomData, ppsType := orDefault(e.HasCustomData, "false"), orDefault(e.PPSType, "None")
	if hasCustomData == "false" && ppsType == "None" {
		return defaultExtended
	}
	return extendedObject(hasCustomData, ppsType)
}

// extendedObject builds extended.compute; hasCustomData is a JSON boolean, the one
// non-string value of the document (reference §2.9).
func extendedObject(hasCustomData, ppsType string) *Node {
	return sharedObject(Fields{"compute": sharedObject(Fields{
		"hasCustomData": Literal(hasCustomData),
		"ppsType":       String(ppsType),
	})})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// prune returns n without the members that appeared after version v, as described by s.
// Unchanged subtrees are returned as they are, not copied. Members missing from the
// schema are kept.
func prune(n *Node, s *schema, v string) *Node {
	if s == nil || v >= s.newest || n.c == nil {
		return n
	}
	var keys []string
	var kids []*Node
	copied := false
	for i, kid := range n.c.kids {
		ks := s.elem
		if n.kind == KindObject {
			ks = s.kids[n.c.keys[i]]
		}
		var p *Node // nil: member dropped
		if n.kind == KindArray || ks == nil || v >= ks.since {
			p = prune(kid, ks, v)
		}
		if !copied && p == kid {
			continue
		}
		if !copied {
			kids = append(make([]*Node, 0, len(n.c.kids)), n.c.kids[:i]...)
			if n.kind == KindObject {
				keys = append(make([]string, 0, len(n.c.keys)), n.c.keys[:i]...)
			}
			copied = true
		}
		if p != nil {
			kids = append(kids, p)
			if n.kind == KindObject {
				keys = append(keys, n.c.keys[i])
			}
		}
	}
	if !copied {
		return n
	}
	return newComposite(n.kind, internKeys(keys), kids)
}
