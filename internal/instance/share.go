package instance

import (
	"strings"
	"sync"
)

// A fleet's trees repeat themselves: every VM has the same object shapes and mostly the
// same small values. The builder shares what repeats, so the memory of a tree is close
// to that of the VM's own values. Everything shared here is immutable, and each table is
// bounded by the schema and the fixed vocabulary below, never by inventory data.

// sharedLeaves are leaves whose values recur in every instance.
var sharedLeaves = func() map[string]*Node {
	m := map[string]*Node{}
	for _, s := range []string{
		"", "true", "false", "0", "1", "2", "3", "4", "30", "64", "128", "256", "512", "1024",
		"Linux", "Windows", "None", "ReadOnly", "ReadWrite", "FromImage", "Empty", "Attach",
		"Premium_LRS", "PremiumV2_LRS", "StandardSSD_LRS", "Standard_LRS", "UltraSSD_LRS",
		"Regular", "Spot", "Deallocate", "Delete", "Microsoft.Compute", "AzurePublicCloud",
		"TrustedLaunch", "ConfidentialVM", "latest", "24", "Local",
	} {
		m[s] = String(s)
	}
	return m
}()

// leaf returns a string leaf, shared when the value is a common one.
func leaf(s string) *Node {
	if n, ok := sharedLeaves[s]; ok {
		return n
	}
	return String(s)
}

var (
	// keySets maps a key list, joined by NUL, to the one copy all objects with those
	// keys use.
	keySets sync.Map
	// constNodes maps the JSON of an object or array made only of shared nodes to the
	// one node that stands for all of them; constSet holds those nodes.
	constNodes, constSet sync.Map
)

// internKeys returns the shared copy of a sorted key list.
func internKeys(keys []string) []string {
	if len(keys) == 0 {
		return nil
	}
	v, _ := keySets.LoadOrStore(strings.Join(keys, "\x00"), keys)
	return v.([]string)
}

func isShared(n *Node) bool {
	if n.c == nil {
		return sharedLeaves[n.str] == n
	}
	_, ok := constSet.Load(n)
	return ok
}

// share returns the shared copy of n when n holds only shared nodes, such as
// {"uri":""} or [], and n otherwise.
func share(n *Node) *Node {
	for _, k := range n.c.kids {
		if !isShared(k) {
			return n
		}
	}
	v, loaded := constNodes.LoadOrStore(string(n.appendJSON(nil)), n)
	if !loaded {
		constSet.Store(n, struct{}{})
	}
	return v.(*Node)
}

// object is Object for trees of this package: its keys and, when it holds only shared
// nodes, the object itself are shared.
func object(f Fields) *Node {
	n := Object(f)
	n.c.keys = internKeys(n.c.keys)
	return share(n)
}

// array is Array with the same sharing as object.
func array(elems []*Node) *Node { return share(Array(elems...)) }
