package instance

import (
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Kind says what a Node holds.
type Kind uint8

const (
	// KindString is a leaf holding a string. Every /metadata/instance primitive is one.
	KindString Kind = iota
	// KindLiteral is a leaf holding a raw JSON literal (true, false, a number). Only the
	// `extended` subtree uses it.
	KindLiteral
	// KindObject is a JSON object whose keys are kept in byte order, as Azure writes them.
	KindObject
	// KindArray is a JSON array.
	KindArray
)

// Node is one element of a metadata tree. A tree is immutable once built, so rendered
// forms of objects and arrays are memoised on the node and shared by every request that
// reaches it. Leaves are rendered on each call: they are short, and a fleet's trees hold
// a great many of them.
type Node struct {
	kind Kind
	str  string     // KindString value, or KindLiteral JSON text
	c    *composite // KindObject and KindArray members; nil for leaves
}

// composite holds what only objects and arrays need, so that a leaf costs 32 bytes.
type composite struct {
	keys []string // KindObject keys, sorted; never modified, so nodes may share them
	kids []*Node  // KindObject values (parallel to keys) or KindArray elements

	json atomic.Pointer[[]byte]
	text atomic.Pointer[[]byte]
}

// maxMemoJSON is the size up to which a node always keeps its JSON: the small subtrees
// that route requests ask for. Larger renderings (whole documents, a few kB per VM and
// api-version) are kept only within memoBudget.
const maxMemoJSON = 1024

func newComposite(kind Kind, keys []string, kids []*Node) *Node {
	return &Node{kind: kind, c: &composite{keys: keys, kids: kids}}
}

// String returns a string leaf.
func String(s string) *Node { return &Node{kind: KindString, str: s} }

// Literal returns a leaf written to JSON exactly as lit (for example "false").
func Literal(lit string) *Node { return &Node{kind: KindLiteral, str: lit} }

// Array returns an array node. A nil or empty elems renders as [].
func Array(elems ...*Node) *Node { return newComposite(KindArray, nil, elems) }

// Fields collects the members of an object before it is frozen by Object.
type Fields map[string]*Node

// Object returns an object node with the members of f, keys sorted in byte order.
// Nil members are dropped, so a builder can write f["x"] = nil for a field its
// api-version does not have.
func Object(f Fields) *Node {
	keys := make([]string, 0, len(f))
	for k, v := range f {
		if v != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	kids := make([]*Node, len(keys))
	for i, k := range keys {
		kids[i] = f[k]
	}
	return newComposite(KindObject, keys, kids)
}

// Kind reports what n holds.
func (n *Node) Kind() Kind { return n.kind }

// IsLeaf reports whether n is a string or literal leaf.
func (n *Node) IsLeaf() bool { return n.kind == KindString || n.kind == KindLiteral }

// Value returns the string of a leaf, or "" for other kinds.
func (n *Node) Value() string { return n.str }

// Len returns the number of members of an object or elements of an array.
func (n *Node) Len() int { return len(n.kids()) }

// Keys returns the keys of an object in byte order. The slice must not be modified.
func (n *Node) Keys() []string {
	if n.c == nil {
		return nil
	}
	return n.c.keys
}

func (n *Node) kids() []*Node {
	if n.c == nil {
		return nil
	}
	return n.c.kids
}

// Get returns the member of an object named key (case-sensitive).
func (n *Node) Get(key string) (*Node, bool) {
	if n.kind != KindObject {
		return nil, false
	}
	keys := n.c.keys
	i := sort.SearchStrings(keys, key)
	if i < len(keys) && keys[i] == key {
		return n.c.kids[i], true
	}
	return nil, false
}

// Index returns element i of an array.
func (n *Node) Index(i int) (*Node, bool) {
	if n.kind != KindArray || i < 0 || i >= len(n.c.kids) {
		return nil, false
	}
	return n.c.kids[i], true
}

// Child resolves one route segment: an object key, or for an array a base-10
// non-negative position without sign or leading zeros.
func (n *Node) Child(seg string) (*Node, bool) {
	switch n.kind {
	case KindObject:
		return n.Get(seg)
	case KindArray:
		i, ok := parseIndex(seg)
		if !ok {
			return nil, false
		}
		return n.Index(i)
	}
	return nil, false
}

func parseIndex(s string) (int, bool) {
	if s == "" || len(s) > 9 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// JSON returns the compact JSON form of n: no whitespace, no trailing newline, keys in
// byte order, and <, > and & written as they are. The slice may be shared; do not modify
// it.
func (n *Node) JSON() []byte {
	if n.c == nil {
		return n.appendJSON(nil)
	}
	if p := n.c.json.Load(); p != nil {
		return *p
	}
	// Render into a reused buffer and copy once, rather than grow a new slice through
	// every size up to the result's.
	bp := renderBufs.Get().(*[]byte)
	scratch := n.appendJSON((*bp)[:0])
	b := append(make([]byte, 0, len(scratch)), scratch...)
	if cap(scratch) <= maxPooledRender {
		*bp = scratch
		renderBufs.Put(bp)
	}
	if len(b) <= maxMemoJSON || takeMemoBudget(int64(len(b))) {
		if len(b) > maxMemoJSON {
			// Give the budget back when the tree is dropped (an inventory reload).
			runtime.AddCleanup(n.c, func(size int64) { memoBudget.Add(size) }, int64(len(b)))
		}
		n.c.json.Store(&b)
	}
	return b
}

// memoBudget is how many more bytes of whole documents (over maxMemoJSON) may be kept
// across all trees. Documents are what a fleet polls, so keeping the ones asked for
// makes the common answer a copy; the budget bounds what that costs a large fleet
// (5,000 VMs at one api-version fit in it), and past it documents are rendered on
// each request.
var memoBudget atomic.Int64

// DefaultMemoBudget is the initial memoBudget.
const DefaultMemoBudget = 16 << 20

func init() { memoBudget.Store(DefaultMemoBudget) }

func takeMemoBudget(n int64) bool {
	if memoBudget.Add(-n) >= 0 {
		return true
	}
	memoBudget.Add(n)
	return false
}

// AppendJSON appends the JSON form of n, as JSON returns it, to dst and returns the
// extended slice. It lets a caller render a large document into a buffer of its own.
func (n *Node) AppendJSON(dst []byte) []byte { return n.appendJSON(dst) }

// renderBufs holds scratch buffers for JSON; maxPooledRender keeps an outsized
// document's buffer out of the pool.
var renderBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledRender = 64 << 10

func (n *Node) appendJSON(dst []byte) []byte {
	switch n.kind {
	case KindString:
		return AppendJSONString(dst, n.str)
	case KindLiteral:
		return append(dst, n.str...)
	}
	if p := n.c.json.Load(); p != nil {
		return append(dst, *p...)
	}
	switch n.kind {
	case KindArray:
		dst = append(dst, '[')
		for i, k := range n.c.kids {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = k.appendJSON(dst)
		}
		return append(dst, ']')
	default:
		dst = append(dst, '{')
		for i, k := range n.c.kids {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONString(dst, n.c.keys[i])
			dst = append(dst, ':')
			dst = k.appendJSON(dst)
		}
		return append(dst, '}')
	}
}

// Text returns the format=text form of n. A leaf is its raw value with no quotes and no
// trailing newline. An object lists its member names and an array its positions, one
// per line, with "/" after members that are themselves objects or arrays. The slice may
// be shared; do not modify it.
func (n *Node) Text() []byte {
	if n.c == nil {
		return []byte(n.str)
	}
	if p := n.c.text.Load(); p != nil {
		return *p
	}
	var b []byte
	for i, k := range n.c.kids {
		if i > 0 {
			b = append(b, '\n')
		}
		if n.kind == KindObject {
			b = append(b, n.c.keys[i]...)
		} else {
			b = strconv.AppendInt(b, int64(i), 10)
		}
		if !k.IsLeaf() {
			b = append(b, '/')
		}
	}
	n.c.text.Store(&b)
	return b
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string. Unlike encoding/json it leaves <, > and &
// alone, as IMDS does; control characters, quotes, backslashes, U+2028/U+2029 and
// invalid UTF-8 are escaped so the output is always valid JSON.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
