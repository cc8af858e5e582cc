package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// This file reads a settings file into a tree of nodes that remember their
// byte offsets, so that every error can name a line and column; it refuses
// duplicate keys (C.2) and bounds size, depth and element counts.

// Limits on a settings file.
const (
	// MaxSettingsSize bounds a settings file, in bytes.
	MaxSettingsSize = 1 << 20
	maxDepth        = 32
	maxElements     = 10_000
)

type nodeKind int

const (
	kindNull nodeKind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k nodeKind) String() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

// node is one JSON value and the offset where it starts.
type node struct {
	kind   nodeKind
	off    int64
	str    string // string value, or the literal of a number
	b      bool
	elems  []*node
	fields []field
}

type field struct {
	key string
	off int64
	val *node
}

// lookup returns the field named key (exact match), or nil.
func (n *node) lookup(key string) *field {
	for i := range n.fields {
		if n.fields[i].key == key {
			return &n.fields[i]
		}
	}
	return nil
}

// jsonParser builds a node tree from data.
type jsonParser struct {
	data  []byte
	dec   *json.Decoder
	count int
}

// errAt is a parse error at a byte offset.
type errAt struct {
	off    int64
	reason string
	err    error
}

func (e *errAt) Error() string { return e.reason }

// parseTree parses data, which must hold exactly one JSON value.
func parseTree(data []byte) (*node, error) {
	p := &jsonParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, &errAt{off: p.skipSpace(p.dec.InputOffset()), reason: "unexpected data after the settings object: give one JSON object"}
	}
	return n, nil
}

// skipSpace returns the offset of the first byte at or after off that is
// not whitespace or a separator.
func (p *jsonParser) skipSpace(off int64) int64 {
	for off < int64(len(p.data)) {
		switch p.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

func (p *jsonParser) token() (json.Token, int64, error) {
	start := p.skipSpace(p.dec.InputOffset())
	tok, err := p.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, se.Offset, &errAt{off: se.Offset, reason: "invalid JSON: " + se.Error(), err: err}
		}
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, int64(len(p.data)), &errAt{off: int64(len(p.data)), reason: "invalid JSON: the file ends early (a missing } or ])"}
		}
		return nil, start, &errAt{off: start, reason: "invalid JSON: " + err.Error(), err: err}
	}
	return tok, start, nil
}

func (p *jsonParser) value(depth int) (*node, error) {
	tok, off, err := p.token()
	if err != nil {
		return nil, err
	}
	return p.valueFrom(tok, off, depth)
}

func (p *jsonParser) valueFrom(tok json.Token, off int64, depth int) (*node, error) {
	p.count++
	if p.count > maxElements {
		return nil, &errAt{off: off, reason: fmt.Sprintf("too many values: a settings file holds at most %d", maxElements)}
	}
	n := &node{off: off}
	switch v := tok.(type) {
	case nil:
		n.kind = kindNull
	case bool:
		n.kind, n.b = kindBool, v
	case json.Number:
		n.kind, n.str = kindNumber, string(v)
	case string:
		n.kind, n.str = kindString, v
	case json.Delim:
		if depth >= maxDepth {
			return nil, &errAt{off: off, reason: fmt.Sprintf("nested too deeply: at most %d levels", maxDepth)}
		}
		switch v {
		case '[':
			n.kind = kindArray
			for p.dec.More() {
				e, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, e)
			}
		case '{':
			n.kind = kindObject
			seen := map[string]int64{}
			for p.dec.More() {
				kt, koff, err := p.token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string)
				if prev, dup := seen[key]; dup {
					l, c := lineCol(p.data, prev)
					return nil, &errAt{off: koff, reason: fmt.Sprintf("duplicate key %q (first at line %d, column %d): keep one", key, l, c)}
				}
				seen[key] = koff
				val, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.fields = append(n.fields, field{key: key, off: koff, val: val})
			}
		}
		if _, _, err := p.token(); err != nil { // the closing delimiter
			return nil, err
		}
	}
	return n, nil
}

// lineCol returns the 1-based line and column (in characters) of off.
func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[lineStart:]) + 1
}

// escapedQuotes reports whether data looks like JSON whose quotes were
// backslash-escaped outside strings: \" right after {, [, : or , (with
// optional spaces), as PowerShell leaves it.
func escapedQuotes(data []byte) bool {
	s := string(data)
	for i := strings.Index(s, `\"`); i >= 0; {
		j := i - 1
		for j >= 0 && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n') {
			j--
		}
		if j < 0 || strings.IndexByte("{[:,", s[j]) >= 0 {
			return true
		}
		k := strings.Index(s[i+2:], `\"`)
		if k < 0 {
			break
		}
		i += 2 + k
	}
	return false
}
