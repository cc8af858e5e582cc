package instance

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// decoder fills model values from YAML nodes. It checks structure only (mappings,
// lists, scalars, known member names, no duplicate keys); Normalize checks the values.
// Unlike yaml.Node.Decode it reports a problem with its line, column and field path.
//
// Scalars of every YAML type decode into string fields as they are written, so
// `platformFaultDomain: 0` and `platformFaultDomain: "0"` both give "0", and `version:
// 1.10` keeps its trailing zero.
//
// A decoder keeps one copy of each distinct string it decodes: a fleet repeats its
// regions, sizes, images and tags thousands of times.
type decoder struct {
	strs map[string]string
}

func newDecoder() *decoder { return &decoder{strs: map[string]string{}} }

// decode fills v, a pointer to a model type, from n; p is n's path for errors.
func (d *decoder) decode(n *yaml.Node, v any, p fieldPath) error {
	return d.value(n, reflect.ValueOf(v).Elem(), p)
}

func (d *decoder) value(n *yaml.Node, v reflect.Value, p fieldPath) error {
	if n.Kind == yaml.AliasNode {
		return nodeError(n, p, "uses the alias *%s; aliases are not supported, so write the value out in full", n.Value)
	}
	if isNull(n) {
		v.SetZero()
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		ptr := reflect.New(v.Type().Elem())
		if err := d.value(n, ptr.Elem(), p); err != nil {
			return err
		}
		v.Set(ptr)
		return nil
	case reflect.Struct:
		return d.structure(n, v, p)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return nodeError(n, p, "must be a list (items starting with \"- \"), not %s", describe(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			if err := d.value(e, s.Index(i), p.index(i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		return d.mapping(n, v, p)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return nodeError(n, p, "must be a single value, not %s", describe(n))
		}
		s, ok := d.strs[n.Value]
		if !ok {
			s = n.Value
			d.strs[s] = s
		}
		v.SetString(s)
		return nil
	case reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			return nodeError(n, p, "must be an integer (for example 443), not %s", describe(n))
		}
		v.SetInt(int64(i))
		return nil
	case reflect.Bool:
		b, err := parseBool(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			return nodeError(n, p, "must be true or false, not %s", describe(n))
		}
		v.SetBool(b == "true")
		return nil
	}
	panic("instance: no decoder for " + v.Type().String())
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, p fieldPath) error {
	if n.Kind != yaml.MappingNode {
		return nodeError(n, p, "must be a mapping of field names to values, not %s", describe(n))
	}
	info := structInfoOf(v.Type())
	return eachPair(n, p, func(k, val *yaml.Node) error {
		f, ok := info.fields[k.Value]
		if !ok {
			if hint, ok := fieldHints[v.Type()][k.Value]; ok {
				return nodeError(k, p.key(k.Value), "unknown field; %s", hint)
			}
			return nodeError(k, p.key(k.Value), "unknown field%s", info.suggest(k.Value))
		}
		return d.value(val, v.Field(f), p.key(k.Value))
	})
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, p fieldPath) error {
	if n.Kind != yaml.MappingNode {
		return nodeError(n, p, "must be a mapping of names to values, not %s", describe(n))
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	err := eachPair(n, p, func(k, val *yaml.Node) error {
		e := reflect.New(v.Type().Elem()).Elem()
		if err := d.value(val, e, p.mapKey(k.Value)); err != nil {
			return err
		}
		m.SetMapIndex(reflect.ValueOf(k.Value), e)
		return nil
	})
	v.Set(m)
	return err
}

// eachPair calls fn for each key and value of a mapping after checking that the key is a
// plain string that has not been seen before.
func eachPair(n *yaml.Node, p fieldPath, fn func(k, v *yaml.Node) error) error {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode {
			return nodeError(k, p, "uses the alias *%s as a key; aliases are not supported", k.Value)
		}
		if k.Kind != yaml.ScalarNode {
			return nodeError(k, p, "has %s as a key; keys must be plain names", describe(k))
		}
		if k.Tag == "!!merge" {
			return nodeError(k, p, "uses a merge key (<<); merge keys are not supported, so write the fields out")
		}
		if line, dup := seen[k.Value]; dup {
			return nodeError(k, p.key(k.Value), "is set twice; the first value is at line %d, so remove one", line)
		}
		seen[k.Value] = k.Line
		if err := fn(k, val); err != nil {
			return err
		}
	}
	return nil
}

// fieldHints explain the members of the IMDS document that an inventory does not set
// where one would look for them.
var fieldHints = map[reflect.Type]map[string]string{
	reflect.TypeFor[Compute](): {
		"name":       "the VM name is the instance's own name field, one level up",
		"customData": `Azure always serves customData as ""; to serve another value use overrides: {"/compute/customData": "..."}`,
		"tagsList":   "tagsList is derived from tags; write tags as a mapping of names to values",
	},
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describe names what a node holds, for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "an alias"
}

func nodeError(n *yaml.Node, p fieldPath, format string, args ...any) error {
	return &fieldError{path: p, line: n.Line, column: n.Column, err: fmt.Errorf(format, args...)}
}

// structInfo maps the YAML names of a model type to its fields.
type structInfo struct {
	fields map[string]int // YAML name -> field index
	names  []string       // sorted, for suggestions
}

var structInfos sync.Map // reflect.Type -> *structInfo

func structInfoOf(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{fields: map[string]int{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		si.fields[name] = i
		si.names = append(si.names, name)
	}
	sort.Strings(si.names)
	structInfos.Store(t, si)
	return si
}

// suggest returns a hint naming the known field closest to an unknown one, or the list of
// known fields when none is close.
func (si *structInfo) suggest(name string) string {
	best, bestDist := "", 3
	for _, k := range si.names {
		if strings.EqualFold(k, name) {
			return fmt.Sprintf("; did you mean %q? (names are case-sensitive)", k)
		}
		if d := editDistance(strings.ToLower(k), strings.ToLower(name)); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return "; known fields are " + strings.Join(si.names, ", ")
}

// editDistance is the Levenshtein distance of a and b, for suggestions only; long names
// are not compared.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return len(a) + len(b)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
