package mapaudit

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// LDIFRecord is one record of an LDIF file (RFC 2849): an entry, or a change
// record when ChangeType is set. ldifde writes "changetype: add" on every
// exported entry, so records with ChangeType "add" carry their attributes in
// Attrs like plain entries.
type LDIFRecord struct {
	// DN is the record's distinguished name, decoded when written "dn::".
	DN string
	// Line is the line of the dn: line.
	Line int
	// ChangeType is empty for an entry, otherwise add, modify, delete,
	// modrdn or moddn, lower-cased.
	ChangeType string
	// Attrs are the attribute values of an entry (or an add record) in
	// file order. Ranged values ("member;range=0-1499") keep their name
	// without the options, so the ranges merge.
	Attrs []LDIFAttr
	// Mods are the modifications of a modify record, in order.
	Mods []LDIFMod
}

// LDIFAttr is one attribute value.
type LDIFAttr struct {
	// Name is the attribute type as written, without options.
	Name string
	// lower is Name in lower case, set by the parser.
	lower string
	// Options are the ";"-separated options, such as "binary" or
	// "range=0-1499".
	Options []string
	Value   []byte
	Line    int
}

// LDIFMod is one add, delete or replace block of a modify record.
type LDIFMod struct {
	// Op is add, delete or replace, lower-cased.
	Op, Attr string
	Values   [][]byte
	Line     int
}

// Values returns the values of attribute name (case-insensitive, options
// ignored) in file order.
func (r *LDIFRecord) Values(name string) [][]byte {
	var out [][]byte
	for i := range r.Attrs {
		if strings.EqualFold(r.Attrs[i].Name, name) {
			out = append(out, r.Attrs[i].Value)
		}
	}
	return out
}

// First returns the first value of attribute name and whether there is one.
func (r *LDIFRecord) First(name string) ([]byte, bool) {
	for i := range r.Attrs {
		if strings.EqualFold(r.Attrs[i].Name, name) {
			return r.Attrs[i].Value, true
		}
	}
	return nil, false
}

// ParseLDIF reads every record of data; see ReadLDIF.
func ParseLDIF(data []byte, origin string) ([]LDIFRecord, []Problem, error) {
	var recs []LDIFRecord
	probs, err := ReadLDIF(bytes.NewReader(data), origin, func(r *LDIFRecord) {
		rec := *r
		rec.Attrs = slices.Clone(r.Attrs)
		for i := range rec.Attrs {
			rec.Attrs[i].Value = bytes.Clone(rec.Attrs[i].Value)
		}
		rec.Mods = slices.Clone(r.Mods)
		for i := range rec.Mods {
			rec.Mods[i].Values = slices.Clone(rec.Mods[i].Values)
			for j := range rec.Mods[i].Values {
				rec.Mods[i].Values[j] = bytes.Clone(rec.Mods[i].Values[j])
			}
		}
		recs = append(recs, rec)
	})
	return recs, probs, err
}

// ReadLDIF reads LDIF as ldifde and ldapsearch write it and calls fn with
// each record, in order: "version: 1", comments, folded lines (a leading
// single space continues the previous line), base64 values and DNs ("::"),
// attribute options, CRLF line ends and UTF-16 with a byte order mark
// (ldifde -u). A ":<" URL reference is refused: tegata reads no other file
// or URL on behalf of its input.
//
// A bad line or value is a Problem naming origin and the line, and the rest
// of the record and of the file is still read; a record whose dn: line is
// bad is skipped. The error is an I/O error or an input over MaxFileSize.
// The record passed to fn, and the values it holds, are reused after fn
// returns: copy what you keep.
func ReadLDIF(r io.Reader, origin string, fn func(*LDIFRecord)) ([]Problem, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, MaxFileSize+1), 64<<10)
	if head, _ := br.Peek(2); len(head) == 2 && (head[0] == 0xFF && head[1] == 0xFE || head[0] == 0xFE && head[1] == 0xFF) {
		all, err := io.ReadAll(br)
		if err != nil {
			return nil, err
		}
		if len(all) > MaxFileSize {
			return nil, fmt.Errorf("%w: %s is over the %d-byte limit: split the export", ErrTooLarge, origin, MaxFileSize)
		}
		br = bufio.NewReaderSize(bytes.NewReader(toUTF8(all)), 64<<10)
	} else if head, _ := br.Peek(3); len(head) == 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF {
		br.Discard(3)
	}
	p := &ldifParser{lr: lineReader{br: br}, origin: origin}
	err := p.run(fn)
	if p.lr.read > MaxFileSize {
		return p.problems, fmt.Errorf("%w: %s is over the %d-byte limit: split the export", ErrTooLarge, origin, MaxFileSize)
	}
	return p.problems, err
}

type ldifParser struct {
	lr       lineReader
	origin   string
	problems []Problem
	rec      LDIFRecord
	counts   map[string]int
	// names interns attribute descriptions: a file repeats a few names on
	// every record.
	names map[string]attrName
	// values holds the current record's values.
	values byteArena
}

// byteArena hands out byte slices from chunks that are reused from record
// to record; a slice stays valid until reset, since a full chunk is never
// reallocated, only followed by another.
type byteArena struct {
	chunks [][]byte
	cur    int
}

const (
	arenaChunk     = 64 << 10
	arenaKeptChunk = 16 // chunks kept across records; more are dropped
)

func (a *byteArena) reset() {
	for i := 0; i <= a.cur && i < len(a.chunks); i++ {
		a.chunks[i] = a.chunks[i][:0]
	}
	a.cur = 0
	if len(a.chunks) > arenaKeptChunk {
		a.chunks = a.chunks[:arenaKeptChunk]
	}
}

// alloc returns n bytes valid until the next reset.
func (a *byteArena) alloc(n int) []byte {
	if n > arenaChunk/4 {
		return make([]byte, n)
	}
	if len(a.chunks) == 0 {
		a.chunks = append(a.chunks, make([]byte, 0, arenaChunk))
	}
	if c := a.chunks[a.cur]; cap(c)-len(c) < n {
		a.cur++
		if a.cur == len(a.chunks) {
			a.chunks = append(a.chunks, make([]byte, 0, arenaChunk))
		}
	}
	c := a.chunks[a.cur]
	a.chunks[a.cur] = c[:len(c)+n]
	return c[len(c) : len(c)+n : len(c)+n]
}

// attrName is an attribute description as written and in lower case.
type attrName struct{ desc, lower string }

// maxInternedNames bounds the parser's memory of attribute names.
const maxInternedNames = 4096

// intern returns the description b as a string and in lower case,
// allocating only for a name not seen before.
func (p *ldifParser) intern(b []byte) attrName {
	if n, ok := p.names[string(b)]; ok {
		return n
	}
	n := attrName{desc: string(b)}
	n.lower = strings.ToLower(n.desc)
	if n.lower == n.desc {
		n.lower = n.desc
	}
	if p.names == nil {
		p.names = map[string]attrName{}
	}
	if len(p.names) < maxInternedNames {
		p.names[n.desc] = n
	}
	return n
}

func (p *ldifParser) problem(line int, err error) {
	p.problems = append(p.problems, Problem{Origin: fmt.Sprintf("%s:%d", p.origin, line), Err: err})
}

func (p *ldifParser) run(fn func(*LDIFRecord)) error {
	first := true
	for {
		line, n, err := p.lr.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if len(line) == 0 {
			continue
		}
		if first {
			first = false
			if name, val, ok := cutAttr(line); ok && strings.EqualFold(string(name), "version") {
				if v := strings.TrimSpace(string(val[1:])); v != "1" {
					p.problem(n, fmt.Errorf("%w: LDIF version %q: only version 1 exists", ErrLDIFSyntax, v))
				}
				continue
			}
		}
		if err := p.record(line, n, fn); err != nil {
			return err
		}
	}
}

// record reads one record whose first logical line is first.
func (p *ldifParser) record(first []byte, firstLine int, fn func(*LDIFRecord)) error {
	p.rec = LDIFRecord{Attrs: p.rec.Attrs[:0]}
	p.values.reset()
	if len(p.counts) > 0 {
		clear(p.counts)
	}
	if p.counts == nil {
		p.counts = map[string]int{}
	}
	name, _, opts, val, err := p.value(first, firstLine)
	skip := false
	switch {
	case err != nil:
		p.problem(firstLine, err)
		skip = true
	case !strings.EqualFold(name, "dn") || len(opts) > 0:
		p.problem(firstLine, fmt.Errorf("%w: a record must start with dn:, found %q: separate records with one blank line", ErrLDIFSyntax, truncate(string(first), 60)))
		skip = true
	default:
		p.rec.DN, p.rec.Line = string(val), firstLine
	}
	var mod *LDIFMod
	for {
		line, n, err := p.lr.next()
		if errors.Is(err, io.EOF) || err == nil && len(line) == 0 {
			break
		}
		if err != nil {
			return err
		}
		if skip {
			continue
		}
		if p.rec.ChangeType == "modify" && len(line) == 1 && line[0] == '-' {
			mod = nil
			continue
		}
		name, lname, opts, val, err := p.value(line, n)
		if err != nil {
			p.problem(n, fmt.Errorf("entry %q: %w", p.rec.DN, err))
			continue
		}
		switch {
		case lname == "control" && p.rec.ChangeType == "" && len(p.rec.Attrs) == 0:
			continue
		case lname == "changetype" && p.rec.ChangeType == "" && len(p.rec.Attrs) == 0:
			p.rec.ChangeType = strings.ToLower(strings.TrimSpace(string(val)))
			switch p.rec.ChangeType {
			case "add", "modify", "delete", "modrdn", "moddn":
			default:
				p.problem(n, fmt.Errorf("entry %q: %w: unknown changetype %q", p.rec.DN, ErrLDIFSyntax, p.rec.ChangeType))
				skip = true
			}
			continue
		}
		switch p.rec.ChangeType {
		case "delete", "modrdn", "moddn":
			continue
		case "modify":
			if mod == nil {
				switch lname {
				case "add", "delete", "replace":
					p.rec.Mods = append(p.rec.Mods, LDIFMod{Op: lname, Attr: strings.TrimSpace(string(val)), Line: n})
					mod = &p.rec.Mods[len(p.rec.Mods)-1]
				default:
					p.problem(n, fmt.Errorf("entry %q: %w: expected add:, delete: or replace: in a modify record, found %q", p.rec.DN, ErrLDIFSyntax, name))
				}
				continue
			}
			if !strings.EqualFold(name, mod.Attr) {
				p.problem(n, fmt.Errorf("entry %q: %w: value of %q inside the %s: %s block: end the block with a line holding -", p.rec.DN, ErrLDIFSyntax, name, mod.Op, mod.Attr))
				continue
			}
			if len(mod.Values) >= MaxValuesPerAttribute {
				p.problem(n, fmt.Errorf("entry %q: %w: more than %d values of %s", p.rec.DN, ErrTooLarge, MaxValuesPerAttribute, name))
				continue
			}
			mod.Values = append(mod.Values, val)
		default:
			// No attribute can reach the limit before the record holds that
			// many values: count only beyond it.
			if len(p.rec.Attrs) < MaxValuesPerAttribute {
				p.rec.Attrs = append(p.rec.Attrs, LDIFAttr{Name: name, lower: lname, Options: opts, Value: val, Line: n})
				continue
			}
			if len(p.counts) == 0 {
				for i := range p.rec.Attrs {
					p.counts[p.rec.Attrs[i].lower]++
				}
			}
			c := p.counts[lname]
			if c >= MaxValuesPerAttribute {
				if c == MaxValuesPerAttribute {
					p.problem(n, fmt.Errorf("entry %q: %w: more than %d values of %s; the rest are ignored", p.rec.DN, ErrTooLarge, MaxValuesPerAttribute, name))
				}
				p.counts[lname] = c + 1
				continue
			}
			p.counts[lname] = c + 1
			p.rec.Attrs = append(p.rec.Attrs, LDIFAttr{Name: name, lower: lname, Options: opts, Value: val, Line: n})
		}
	}
	if !skip {
		fn(&p.rec)
	}
	return nil
}

// value parses "type[;options]:value", "type::base64" or "type:<url",
// returning the type as written and in lower case.
func (p *ldifParser) value(line []byte, n int) (name, lower string, opts []string, val []byte, err error) {
	rawDesc, rest, ok := cutAttr(line)
	if !ok {
		return "", "", nil, nil, fmt.Errorf("%w: line %q has no colon: an attribute line is name: value", ErrLDIFSyntax, truncate(string(line), 60))
	}
	rawName := rawDesc
	if i := bytes.IndexByte(rawDesc, ';'); i >= 0 {
		rawName = rawDesc[:i]
		opts = strings.Split(string(rawDesc[i+1:]), ";")
	}
	if len(rawName) == 0 || !validAttrName(rawName) {
		return "", "", nil, nil, fmt.Errorf("%w: %q is not an attribute name", ErrLDIFSyntax, truncate(string(rawDesc), 60))
	}
	in := p.intern(rawName)
	name, lower = in.desc, in.lower
	rest = rest[1:] // the colon
	switch {
	case len(rest) > 0 && rest[0] == ':':
		enc := bytes.TrimSpace(rest[1:])
		val = p.values.alloc(base64.StdEncoding.DecodedLen(len(enc)))
		k, err := base64.StdEncoding.Decode(val, enc)
		if err != nil {
			return "", "", nil, nil, fmt.Errorf("%w: %s:: value is not valid base64 (%v)", ErrLDIFSyntax, name, err)
		}
		return name, lower, opts, val[:k], nil
	case len(rest) > 0 && rest[0] == '<':
		return "", "", nil, nil, fmt.Errorf("%w: %s:< %s: tegata does not follow URL references; export the value inline (ldifde and ldapsearch do by default)", ErrLDIFURL, name, truncate(strings.TrimSpace(string(rest[1:])), 60))
	}
	plain := bytes.TrimLeft(rest, " ")
	val = p.values.alloc(len(plain))
	copy(val, plain)
	return name, lower, opts, val, nil
}

// cutAttr splits a line at its first colon, returning the description and
// the rest starting with the colon.
func cutAttr(line []byte) ([]byte, []byte, bool) {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return nil, nil, false
	}
	return line[:i], line[i:], true
}

// validAttrName accepts descriptors (letters, digits, hyphens) and numeric
// OIDs, as RFC 2849's AttributeType.
func validAttrName(s []byte) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// lineReader yields logical LDIF lines: CR LF or LF ends, folded lines
// joined, comment lines (and their continuations) dropped.
//
// Lines are read into two buffers in turn, reused from line to line: the
// logical line being built is in one, the line read ahead (to see whether
// it continues the first) in the other. A line returned by next is valid
// until the following call.
type lineReader struct {
	br       *bufio.Reader
	line     int   // physical line number of the last line read
	read     int64 // bytes read
	bufs     [2][]byte
	peeked   []byte
	peekN    int
	peekSlot int
	hasPeek  bool
	eof      bool
}

// physical reads the next physical line into l.bufs[slot] and returns it
// without its end of line.
func (l *lineReader) physical(slot int) ([]byte, int, error) {
	if l.eof {
		return nil, 0, io.EOF
	}
	buf := l.bufs[slot][:0]
	defer func() { l.bufs[slot] = buf[:0] }()
	for {
		chunk, err := l.br.ReadSlice('\n')
		l.read += int64(len(chunk))
		if len(buf)+len(chunk) > MaxLineLength {
			return nil, 0, fmt.Errorf("%w: line %d is longer than %d bytes", ErrTooLarge, l.line+1, MaxLineLength)
		}
		buf = append(buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return nil, 0, err
			}
			l.eof = true
			if len(buf) == 0 {
				return nil, 0, io.EOF
			}
		}
		break
	}
	l.line++
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	buf = bytes.TrimSuffix(buf, []byte("\r"))
	return buf, l.line, nil
}

// next returns the next logical line (empty for a record separator) and
// the physical line number where it starts.
func (l *lineReader) next() ([]byte, int, error) {
	for {
		var line []byte
		var n, slot int
		if l.hasPeek {
			line, n, slot = l.peeked, l.peekN, l.peekSlot
			l.hasPeek = false
		} else {
			var err error
			if line, n, err = l.physical(0); err != nil {
				return nil, 0, err
			}
		}
		for {
			cont, cn, err := l.physical(1 - slot)
			if err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, 0, err
			}
			if len(cont) == 0 || cont[0] != ' ' {
				l.peeked, l.peekN, l.peekSlot, l.hasPeek = cont, cn, 1-slot, true
				break
			}
			if len(line)+len(cont) > MaxLineLength {
				return nil, 0, fmt.Errorf("%w: the value starting on line %d is longer than %d bytes", ErrTooLarge, n, MaxLineLength)
			}
			line = append(line, cont[1:]...)
			l.bufs[slot] = line[:0]
		}
		if len(line) > 0 && line[0] == '#' {
			continue
		}
		return line, n, nil
	}
}
