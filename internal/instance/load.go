package instance

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
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
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *LoadError) Unwrap() error { return e.Err }

// LoadFile reads an inventory file; see Parse for its format and checks.
func LoadFile(path string) (*Inventory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load inventory: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load inventory: %w", err)
	}
	return Parse(path, data)
}

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
		return nil, &LoadError{File: name, Err: fmt.Errorf("is larger than %d MiB, the limit for an inventory; split the fleet into several inventories", MaxFileSize>>20)}
	}
	if plan, ok := splitInventory(data); ok {
		if inv, err := parseSplit(name, data, plan); err != errNotSplit {
			return inv, err
		}
	}
	return parseWhole(name, data)
}

// errNotSplit sends Parse from parseSplit to parseWhole.
var errNotSplit = errors.New("parse the whole document")

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
	return loadInstances(name, list, len(list.Content), def, func(i int) (*yaml.Node, bool) {
		n := list.Content[i]
		// Let the collector take this entry's nodes once it is decoded.
		list.Content[i] = nil
		return n, true
	})
}

// parseSplit parses the entries of plan one at a time. It returns errNotSplit when the
// file is not as splitInventory assumed.
func parseSplit(name string, data []byte, plan *splitPlan) (*Inventory, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(plan.skeleton, &doc); err != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errNotSplit
	}
	root := doc.Content[0]
	list, def, err := topLevel(name, root)
	if err != nil {
		return nil, err
	}
	if list == nil || !isNull(list) || list.Line != plan.listLine {
		return nil, errNotSplit
	}
	return loadInstances(name, list, len(plan.items), def, func(i int) (*yaml.Node, bool) {
		return plan.parseItem(data, i)
	})
}

// parseDocument parses data, which must hold one YAML document, and returns its root.
func parseDocument(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, syntaxError(name, err)
	}
	if len(doc.Content) == 0 {
		return nil, &LoadError{File: name, Err: errors.New(`is empty; list the VMs under "instances:" (see testdata/inventory.yaml in the source)`)}
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

// loadInstances decodes, checks and indexes n entries, which item returns one at a time
// (false sends the caller to parseWhole), and then resolves def.
func loadInstances(name string, list *yaml.Node, n int, def *yaml.Node, item func(int) (*yaml.Node, bool)) (*Inventory, error) {
	if n > MaxInstances {
		return nil, loadErr(name, list, "instances", "lists %d VMs, more than the limit of %d; split the fleet into several inventories", n, MaxInstances)
	}
	inv := newInventory(n)
	for i := range n {
		node, ok := item(i)
		if !ok {
			return nil, errNotSplit
		}
		in := new(Instance)
		err := decodeNode(node, in, nil)
		if err == nil {
			err = in.Normalize()
		}
		if err == nil {
			err = inv.add(in)
		}
		if err != nil {
			return nil, toLoadError(name, node, fieldPath{}.key("instances").index(i), err)
		}
	}
	if def != nil && !isNull(def) {
		if def.Kind != yaml.ScalarNode {
			return nil, loadErr(name, def, "default", "must be the name of one of the instances, not %s", describe(def))
		}
		if inv.def = inv.byName[def.Value]; inv.def == nil && def.Value != "" {
			return nil, loadErr(name, def, "default", "names %q, which is not an instance; use the name of one of the instances", def.Value)
		}
	}
	return inv, nil
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

// syntaxError rewrites a yaml.v3 syntax error as a *LoadError with its line.
func syntaxError(file string, err error) error {
	e := &LoadError{File: file}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	e.Err = fmt.Errorf("invalid YAML: %s; check the indentation and quoting on this line and the one before", msg)
	return e
}
