package agent

import (
	"fmt"
	"strconv"
	"strings"
)

// walker maps a node tree onto settings, collecting errors and warnings
// with their JSON paths and positions.
type walker struct {
	file     string
	data     []byte
	errs     SettingsErrors
	warnings []Warning
	// paths records the value of every object field read, by JSON path,
	// for positions in later messages (NewPlan).
	paths map[string]*node
}

const maxErrors = 20

func (w *walker) errAt(n *node, off int64, path string, sentinel error, format string, args ...any) {
	if len(w.errs) >= maxErrors {
		return
	}
	e := &SettingsError{File: w.file, Path: path, Reason: fmt.Sprintf(format, args...), Err: sentinel}
	if n != nil {
		off = n.off
	}
	if off >= 0 {
		e.Line, e.Column = lineCol(w.data, off)
	}
	w.errs = append(w.errs, e)
}

// fail records an error about the value n at path.
func (w *walker) fail(n *node, path string, format string, args ...any) {
	w.errAt(n, -1, path, nil, format, args...)
}

// warn records a warning about the value n (nil: no position) at path.
func (w *walker) warn(n *node, path string, format string, args ...any) {
	wn := Warning{File: w.file, Path: path, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		wn.Line, wn.Column = lineCol(w.data, n.off)
	}
	w.warnings = append(w.warnings, wn)
}

// object checks that n is an object and returns its fields by canonical
// name: keys are matched exactly, then case-insensitively (with a warning
// naming the documented spelling); unknown keys give a warning. Two keys
// that map to the same name are an error.
func (w *walker) object(n *node, path string, known ...string) map[string]*node {
	if n == nil {
		return nil
	}
	if n.kind != kindObject {
		w.fail(n, path, "must be an object, not %s%s", n.kind, stringHint(n))
		return nil
	}
	out := map[string]*node{}
	for _, f := range n.fields {
		name := ""
		for _, k := range known {
			if f.key == k {
				name = k
				break
			}
		}
		if name == "" {
			for _, k := range known {
				if strings.EqualFold(f.key, k) {
					name = k
					w.warn(f.val, join(path, f.key), "read as %q; write the key as %s documents it", k, k)
					break
				}
			}
		}
		if name == "" {
			w.warn(f.val, join(path, f.key), "unknown key, ignored")
			continue
		}
		if _, dup := out[name]; dup {
			w.errAt(nil, f.off, join(path, f.key), nil, "given twice (as %q and in another spelling): keep one", f.key)
			continue
		}
		out[name] = f.val
		if w.paths != nil {
			w.paths[join(path, name)] = f.val
		}
	}
	return out
}

// stringHint explains a JSON string where an object was expected: most
// often an object serialised into a string, with escaped quotes.
func stringHint(n *node) string {
	if n.kind == kindString && strings.HasPrefix(strings.TrimSpace(n.str), "{") {
		return ` (it holds JSON text inside a string, the "not an object" mistake: write the object itself, without surrounding quotes or escaped \")`
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// str reads a string; null and absent give "".
func (w *walker) str(n *node, path string) string {
	if n == nil || n.kind == kindNull {
		return ""
	}
	if n.kind != kindString {
		w.fail(n, path, "must be a string, not %s", n.kind)
		return ""
	}
	return n.str
}

// boolean reads a JSON boolean or the strings "true" and "false" (C.2).
func (w *walker) boolean(n *node, path string, def bool) bool {
	if n == nil || n.kind == kindNull {
		return def
	}
	switch n.kind {
	case kindBool:
		return n.b
	case kindString:
		switch strings.ToLower(strings.TrimSpace(n.str)) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	w.fail(n, path, "must be true or false, not %s", describe(n))
	return def
}

// integer reads a string of integer digits or a JSON integer number.
func (w *walker) integer(n *node, path string) (int64, bool) {
	if n == nil || n.kind == kindNull {
		return 0, false
	}
	if n.kind != kindString && n.kind != kindNumber {
		w.fail(n, path, "must be a whole number (a string such as \"3600\" or a number), not %s", n.kind)
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(n.str), 10, 64)
	if err != nil {
		w.fail(n, path, "must be a whole number, not %s", describe(n))
		return 0, false
	}
	return v, true
}

// strings reads an array of strings.
func (w *walker) strings(n *node, path string) []string {
	if n == nil || n.kind == kindNull {
		return nil
	}
	if n.kind != kindArray {
		w.fail(n, path, "must be an array of strings, not %s", n.kind)
		return nil
	}
	out := make([]string, 0, len(n.elems))
	for i, e := range n.elems {
		if e.kind != kindString {
			w.fail(e, index(path, i), "must be a string, not %s", e.kind)
			continue
		}
		out = append(out, e.str)
	}
	return out
}

// describe quotes a scalar for an error message, bounded.
func describe(n *node) string {
	switch n.kind {
	case kindString:
		s := n.str
		if len(s) > 80 {
			s = s[:80] + "..."
		}
		return strconv.Quote(s)
	case kindNumber:
		return n.str
	}
	return n.kind.String()
}
