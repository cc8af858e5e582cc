package instance

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits on an inventory file, so that a wrong path or a hostile file cannot exhaust
// memory at start-up.
const (
	MaxFileSize  = 64 << 20
	MaxInstances = 100_000
)

// LoadError reports a problem in an inventory file: where it is, which field, what is
// wrong and what to do. Line and Column are 0 when the problem is about the whole file;
// Field is "" when it is about no one field.
type LoadError struct {
	File         string
	Line, Column int
	Field        string // such as instances[1].compute.platformFaultDomain
	Err          error
}

// Error returns the problem as "file:line:column: field: message".
func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.File == "" {
		b.WriteString("inventory")
	}
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *LoadError) Unwrap() error { return e.Err }

// LoadFile reads an inventory file; see Parse for its format and checks. A file in the
// usual layout is read one VM at a time, so loading needs little more memory than the
// VMs themselves; after loading 1,000 VMs or more, LoadFile also returns the memory used
// for parsing to the operating system (debug.FreeOSMemory).
func LoadFile(path string) (*Inventory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load inventory: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > MaxFileSize {
		return nil, &LoadError{File: path, Err: errTooLarge}
	}
	inv, err := parseStream(path, f)
	if err == errNotSplit {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("load inventory: %w", err)
		}
		data, rerr := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
		if rerr != nil {
			return nil, fmt.Errorf("load inventory: %w", rerr)
		}
		if len(data) > MaxFileSize {
			return nil, &LoadError{File: path, Err: errTooLarge}
		}
		inv, err = parseWhole(path, data)
	}
	if inv != nil && inv.Len() >= largeInventory {
		// Parsing leaves the process holding several times the memory the VMs need,
		// which the runtime would return to the OS only slowly; an inventory is loaded
		// at start-up and on reload, so pay for it now.
		debug.FreeOSMemory()
	}
	return inv, err
}

// largeInventory is the size from which LoadFile returns the memory of parsing to the OS.
const largeInventory = 1000

// Parse reads an inventory from data; name is the file name its errors give. The format
// is one YAML document:
//
//	instances:            # one entry per VM, at least one and at most MaxInstances
//	  - name: vm-web-01   # required, unique
//	    compute: {...}    # the members of Compute, named as in the IMDS document
//	    network: {...}    # interface: [{ipv4: ..., ipv6: ..., macAddress: ...}]
//	    extended: {...}   # compute: {hasCustomData, ppsType}
//	    loadBalancer: {}  # publicIpAddresses, inboundRules, outboundRules
//	    identity: {...}   # systemAssigned: {enabled, ...}, userAssigned: [{resourceId, ...}]
//	    addresses: [...]  # more source addresses that identify this VM
//	    overrides: {...}  # route: value, such as "/compute/zone": "3"
//	default: vm-web-01    # optional: the VM that answers callers no address matches
//
// testdata/inventory.yaml is a complete example. Unknown fields, duplicate keys, aliases,
// invalid values (see Normalize), and names, vmIds or caller addresses used by two
// instances are errors; the first one found is returned as a *LoadError. Data larger than
// MaxFileSize is refused.
func Parse(name string, data []byte) (*Inventory, error) {
	if len(data) > MaxFileSize {
		return nil, &LoadError{File: name, Err: errTooLarge}
	}
	if inv, err := parseStream(name, bytes.NewReader(data)); err != errNotSplit {
		return inv, err
	}
	return parseWhole(name, data)
}

// parseWhole parses data as one YAML document.
func parseWhole(name string, data []byte) (*Inventory, error) {
	root, err := parseDocument(name, data)
	if err != nil {
		return nil, err
	}
	list, def, err := topLevel(name, root)
	if err != nil {
		return nil, err
	}
	switch {
	case list == nil:
		return nil, loadErr(name, root, "instances", "is missing; list the VMs under \"instances:\"")
	case isNull(list):
		return nil, loadErr(name, list, "instances", "is empty; add at least one VM")
	case list.Kind != yaml.SequenceNode:
		return nil, loadErr(name, list, "instances", "must be a list of VMs (items starting with \"- \"), not %s", describe(list))
	case len(list.Content) == 0:
		return nil, loadErr(name, list, "instances", "is empty; add at least one VM")
	}
	if len(list.Content) > instanceLimit {
		return nil, &LoadError{File: name, Line: list.Line, Column: list.Column, Field: "instances", Err: errTooMany()}
	}
	l := newLoader(name)
	for i, n := range list.Content {
		if err := l.add(n, i); err != nil {
			return nil, err
		}
		// Let the collector take this entry's nodes.
		list.Content[i] = nil
	}
	return l.finish(def)
}

// parseStream reads the entries of a block-style instances list one at a time (see
// split.go). It returns errNotSplit when the file is not laid out as it expects.
func parseStream(name string, r io.Reader) (*Inventory, error) {
	sc := newEntryScanner(r)
	l := newLoader(name)
	for i := 0; ; i++ {
		text, line, err := sc.next()
		if err == io.EOF {
			break
		}
		if err == errTooLarge {
			return nil, &LoadError{File: name, Err: err}
		}
		if err != nil {
			return nil, err
		}
		if i == instanceLimit {
			return nil, &LoadError{File: name, Line: sc.listLine, Column: 1, Field: "instances", Err: errTooMany()}
		}
		node, ok := parseEntry(text, line)
		if !ok {
			return nil, errNotSplit
		}
		if err := l.add(node, i); err != nil {
			return nil, err
		}
	}
	// Any problem outside the entries is left for parseWhole to find and report: the
	// rest of the file may mean something else once the entries are back in place.
	root, err := parseDocument(name, sc.skeleton)
	if err != nil {
		return nil, errNotSplit
	}
	list, def, err := topLevel(name, root)
	if err != nil || list == nil || !isNull(list) || list.Line != sc.listLine {
		return nil, errNotSplit
	}
	return l.finish(def)
}

// parseDocument parses data, which must hold one YAML document, and returns its root.
func parseDocument(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, syntaxError(name, err)
	}
	if len(doc.Content) == 0 {
		return nil, &LoadError{File: name, Err: errors.New(`is empty; list the VMs under "instances:", each with at least a name`)}
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, loadErr(name, &next, "", "starts a second YAML document; an inventory is one document, so remove the \"---\" line")
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(name, err)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, loadErr(name, root, "", `must be a mapping with "instances:" (a list of VMs) and optionally "default:"`)
	}
	return root, nil
}

// topLevel returns the instances and default nodes of the root mapping.
func topLevel(name string, root *yaml.Node) (list, def *yaml.Node, err error) {
	err = eachPair(root, nil, func(k, v *yaml.Node) error {
		switch k.Value {
		case "instances":
			list = v
		case "default":
			def = v
		default:
			return nodeError(k, fieldPath{}.key(k.Value), `unknown field; an inventory has "instances" and "default"`)
		}
		return nil
	})
	if err != nil {
		return nil, nil, toLoadError(name, root, nil, err)
	}
	return list, def, nil
}

// loader decodes, checks and indexes the entries of an inventory.
type loader struct {
	name  string
	inv   *Inventory
	dec   *decoder
	trees *interner
}

func newLoader(name string) *loader {
	return &loader{name: name, inv: newInventory(0), dec: newDecoder(), trees: newInterner()}
}

// add loads entry i from node.
func (l *loader) add(node *yaml.Node, i int) error {
	in := new(Instance)
	err := l.dec.decode(node, in, nil)
	if err == nil {
		err = in.Normalize()
	}
	if err == nil {
		err = l.inv.add(in)
	}
	if err != nil {
		return toLoadError(l.name, node, fieldPath{}.key("instances").index(i), err)
	}
	// Building the trees now, with one interner, lets VMs share nodes.
	in.prepare(l.trees)
	return nil
}

// finish resolves the default VM named by def and returns the inventory.
func (l *loader) finish(def *yaml.Node) (*Inventory, error) {
	if def != nil && !isNull(def) {
		if def.Kind != yaml.ScalarNode {
			return nil, loadErr(l.name, def, "default", "must be the name of one of the instances, not %s", describe(def))
		}
		if l.inv.def = l.inv.byName[def.Value]; l.inv.def == nil && def.Value != "" {
			return nil, loadErr(l.name, def, "default", "names %q, which is not an instance; use the name of one of the instances", def.Value)
		}
	}
	return l.inv, nil
}

// instanceLimit is MaxInstances, lowered by tests.
var instanceLimit = MaxInstances

func errTooMany() error {
	return fmt.Errorf("lists more than %d VMs, the limit for an inventory; split the fleet into several inventories", instanceLimit)
}

// loadErr returns a *LoadError at n's position.
func loadErr(file string, n *yaml.Node, field, format string, args ...any) error {
	return &LoadError{File: file, Line: n.Line, Column: n.Column, Field: field, Err: fmt.Errorf(format, args...)}
}

// toLoadError turns an error about a field of n, whose path in the file is p, into a
// *LoadError with the field's position.
func toLoadError(file string, n *yaml.Node, p fieldPath, err error) error {
	var fe *fieldError
	if !errors.As(err, &fe) {
		return &LoadError{File: file, Line: n.Line, Column: n.Column, Field: p.String(), Err: err}
	}
	line, col := fe.line, fe.column
	if line == 0 {
		line, col = locate(n, fe.path, fe.onKey)
	}
	full := append(p[:len(p):len(p)], fe.path...)
	return &LoadError{File: file, Line: line, Column: col, Field: full.String(), Err: fe.err}
}

// locate returns the position of the value at p below n (of its key when onKey), or of
// the deepest node on the way when the file does not hold it, as for a derived value.
func locate(n *yaml.Node, p fieldPath, onKey bool) (line, col int) {
	for i, seg := range p {
		if seg.key == "" && !seg.inMap {
			if n.Kind != yaml.SequenceNode || seg.index >= len(n.Content) {
				break
			}
			n = n.Content[seg.index]
			continue
		}
		if n.Kind != yaml.MappingNode {
			break
		}
		var next *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if k := n.Content[j]; k.Value == seg.key {
				if i == len(p)-1 && onKey {
					return k.Line, k.Column
				}
				next = n.Content[j+1]
				break
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return n.Line, n.Column
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlParserProblems are the messages of yaml.v3's parser (as opposed to its scanner).
// yaml.v3 numbers their lines from 0 and those of scanner errors from 1.
var yamlParserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// syntaxError rewrites a yaml.v3 syntax error as a *LoadError with its line: that of
// the problem, or of the start of the construct it is in (a flow list, a quoted string).
func syntaxError(file string, err error) error {
	e := &LoadError{File: file}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if yamlParserProblems[msg] {
			e.Line++
		}
	}
	e.Err = fmt.Errorf("invalid YAML: %s; check the indentation and quoting there", msg)
	return e
}
