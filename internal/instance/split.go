package instance

import (
	"bytes"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// yaml.v3 holds a whole document as nodes, about 40 times the size of the text: a
// 10,000-VM inventory would take more than a gigabyte to load. The usual layout, a block
// list under a top-level "instances:" line, is therefore cut into one piece of text per
// VM, and each is parsed on its own while the previous one's nodes are collected.
//
// The cut is sound because a line indented no deeper than the list's "- " ends every
// block construct of the entry before it; only flow collections and quoted scalars
// ignore indentation, and an entry cut inside one of them fails to parse. Whenever
// anything is not as expected (a piece or the rest of the file fails to parse, tabs in
// indentation, directives, flow style), the loader parses the whole document instead,
// so the cut only ever changes memory use, never the outcome. FuzzParse checks that.

// splitPlan locates the entries of the instances list in a file.
type splitPlan struct {
	skeleton []byte // the file with each entry's lines left empty
	items    []span // the entries
	listLine int    // line of "instances:"
}

// span is the text of one list entry: bytes [start, end) beginning on line.
type span struct {
	start, end, line int
}

var instancesLine = regexp.MustCompile(`^instances:[ ]*(#.*)?$`)

// splitInventory finds the entries of a block-style instances list, or reports false.
func splitInventory(data []byte) (*splitPlan, bool) {
	const (
		before = iota // looking for "instances:"
		first         // looking for the first "- "
		inList
		after
	)
	state, indent := before, 0
	p := &splitPlan{}
	cur := -1 // index of the entry being read
	line := 0
	for off := 0; off < len(data); {
		line++
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		text := bytes.TrimSuffix(bytes.TrimSuffix(data[off:next], []byte("\n")), []byte("\r"))
		lead := len(text) - len(bytes.TrimLeft(text, " "))
		blank := lead == len(text) || text[lead] == '#'
		if lead < len(text) && (text[lead] == '\t' || text[0] == '%') {
			return nil, false
		}
		switch state {
		case before:
			if instancesLine.Match(text) {
				state, p.listLine = first, line
			}
		case first, inList:
			if blank {
				break
			}
			isItem := text[lead] == '-' && (lead+1 == len(text) || text[lead+1] == ' ')
			if state == first {
				if !isItem {
					return nil, false
				}
				state, indent = inList, lead
			}
			switch {
			case lead == indent && isItem:
				if cur >= 0 {
					p.items[cur].end = off
				}
				p.items = append(p.items, span{start: off, line: line})
				cur = len(p.items) - 1
			case lead > indent:
				// A line of the current entry.
			default:
				p.items[cur].end, cur, state = off, -1, after
			}
		}
		off = next
	}
	if len(p.items) == 0 {
		return nil, false
	}
	if cur >= 0 {
		p.items[cur].end = len(data)
	}
	// Blank lines keep every other line where it was, so positions in the rest of the
	// file need no adjustment.
	p.skeleton = make([]byte, 0, len(data)/8)
	last := 0
	for _, it := range p.items {
		p.skeleton = append(p.skeleton, data[last:it.start]...)
		for _, c := range data[it.start:it.end] {
			if c == '\n' {
				p.skeleton = append(p.skeleton, '\n')
			}
		}
		last = it.end
	}
	p.skeleton = append(p.skeleton, data[last:]...)
	return p, true
}

// parseItem parses the text of one entry and returns its node with the line numbers it
// has in the whole file, or false when the text is not exactly one list entry.
func (p *splitPlan) parseItem(data []byte, i int) (*yaml.Node, bool) {
	it := p.items[i]
	var doc yaml.Node
	if err := yaml.Unmarshal(data[it.start:it.end], &doc); err != nil || len(doc.Content) != 1 {
		return nil, false
	}
	list := doc.Content[0]
	if list.Kind != yaml.SequenceNode || len(list.Content) != 1 {
		return nil, false
	}
	shiftLines(list.Content[0], it.line-1)
	return list.Content[0], true
}

func shiftLines(n *yaml.Node, by int) {
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}
