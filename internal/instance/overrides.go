package instance

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// applyOverrides returns t with each override's value in place of the leaf its route
// names, in route order so the result does not depend on map order. Routes that do not
// name a leaf are skipped and reported in the error; Normalize rejects them at load time.
func applyOverrides(t *Node, overrides map[string]string) (*Node, error) {
	routes := make([]string, 0, len(overrides))
	for r := range overrides {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	var errs []error
	for _, r := range routes {
		nt, err := replaceLeaf(t, r, overrides[r])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t = nt
	}
	return t, errors.Join(errs...)
}

// splitRoute checks the syntax of an override route and returns its segments.
func splitRoute(route string) ([]string, error) {
	rest, ok := strings.CutPrefix(route, "/")
	if !ok || rest == "" {
		return nil, fmt.Errorf("must be a route starting with / (for example \"/compute/zone\")")
	}
	segs := strings.Split(rest, "/")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("has an empty segment; write routes like \"/compute/zone\"")
		}
	}
	return segs, nil
}

// replaceLeaf returns a copy of t in which the leaf at route holds value. Only the
// objects and arrays on the route are copied; everything else is shared with t.
func replaceLeaf(t *Node, route, value string) (*Node, error) {
	segs, err := splitRoute(route)
	if err != nil {
		return nil, err
	}
	path := make([]*Node, 0, len(segs)+1)
	path = append(path, t)
	for i, seg := range segs {
		next, ok := path[i].Child(seg)
		if !ok {
			return nil, fmt.Errorf("names nothing: %q has no member %q at api-version %s; check the route against the served document",
				"/"+strings.Join(segs[:i], "/"), seg, NewestVersion)
		}
		path = append(path, next)
	}
	if target := path[len(path)-1]; !target.IsLeaf() {
		return nil, fmt.Errorf("names an object or array, not a value; overrides replace single values such as \"/compute/zone\"")
	}
	repl := String(value)
	for i := len(segs) - 1; i >= 0; i-- {
		repl = withChild(path[i], segs[i], repl)
	}
	return repl, nil
}

// withChild returns a copy of n with the member or element seg, which exists, replaced.
// The copy shares n's keys.
func withChild(n *Node, seg string, kid *Node) *Node {
	kids := append([]*Node(nil), n.c.kids...)
	if n.kind == KindObject {
		kids[sort.SearchStrings(n.c.keys, seg)] = kid
	} else {
		i, _ := parseIndex(seg)
		kids[i] = kid
	}
	return newComposite(n.kind, n.c.keys, kids)
}
