package instance

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// yaml.v3 holds a whole document as nodes, many times the size of the text: parsed
// whole, a 32 MB inventory of 10,000 VMs made the process grow to 1.6 GB. The usual
// layout, a block list under a top-level "instances:" line, is therefore read one VM at
// a time: the text of each entry is cut out as it is read and parsed on its own, and
// nothing of it but the decoded VM outlives it.
//
// The cut is sound because a line indented no deeper than the list's "- " ends every
// block construct of the entry before it; only flow collections and quoted scalars
// ignore indentation, and an entry cut inside one of them fails to parse. Whenever
// anything is not as expected (an entry or the rest of the file fails to parse, tabs in
// indentation, directives, flow style, line breaks other than \n and \r\n), the loader
// parses the whole document instead. So the cut never changes whether a file loads or
// what it loads; FuzzParse checks that.

// errNotSplit sends the loader from entry-by-entry parsing to parseWhole.
var errNotSplit = errors.New("parse the whole document")

var instancesLine = regexp.MustCompile(`^instances:[ ]*(#.*)?$`)

// entryScanner reads an inventory and returns the entries of its instances list one at a
// time. The rest of the file, with each entry's lines left empty so that every other
// line keeps its number, is collected as the skeleton.
type entryScanner struct {
	r        *bufio.Reader
	size     int64 // bytes read
	line     int   // lines read
	state    int
	indent   int // column of the list's "- "
	listLine int // line of "instances:"

	skeleton []byte
	entry    []byte // text of the entry being read
	start    int    // its first line
	done     []byte // the entry last returned; its buffer is reused for the one after
	buf      []byte // the line being read
}

// Scanner states.
const (
	seekList  = iota // before "instances:"
	seekEntry        // before the first "- "
	inList
	afterList
)

func newEntryScanner(r io.Reader) *entryScanner {
	return &entryScanner{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the text of the next entry and its first line, io.EOF after the last one,
// errNotSplit when the file is not laid out as expected, errTooLarge, or the reader's
// error. The text is valid until the next call.
func (s *entryScanner) next() (text []byte, line int, err error) {
	for {
		raw, err := s.readLine()
		if err != nil && err != io.EOF {
			return nil, 0, err
		}
		if len(raw) == 0 {
			switch s.state {
			case seekList, seekEntry:
				return nil, 0, errNotSplit
			case inList:
				s.state = afterList
				return s.finishEntry()
			}
			return nil, 0, io.EOF
		}
		text := bytes.TrimSuffix(bytes.TrimSuffix(raw, []byte("\n")), []byte("\r"))
		if oddLineBreak(text) {
			return nil, 0, errNotSplit
		}
		lead := len(text) - len(bytes.TrimLeft(text, " "))
		blank := lead == len(text) || text[lead] == '#'
		if lead < len(text) && (text[lead] == '\t' || text[0] == '%') {
			return nil, 0, errNotSplit
		}
		isEntry := !blank && text[lead] == '-' && (lead+1 == len(text) || text[lead+1] == ' ')

		switch {
		case s.state == seekList:
			if instancesLine.Match(text) {
				s.state, s.listLine = seekEntry, s.line
			}
		case s.state == afterList, s.state == seekEntry && blank:
		case s.state == seekEntry && !isEntry:
			return nil, 0, errNotSplit
		case s.state == seekEntry, lead == s.indent && isEntry:
			first := s.state == seekEntry
			s.state, s.indent = inList, lead
			var t []byte
			var l int
			if !first {
				t, l, _ = s.finishEntry()
			}
			s.entry, s.start = append(s.entry, raw...), s.line
			s.skeleton = append(s.skeleton, '\n')
			if !first {
				return t, l, nil
			}
			continue
		case blank || lead > s.indent:
			s.entry = append(s.entry, raw...)
			s.skeleton = append(s.skeleton, '\n')
			continue
		default: // the list ends here
			s.state = afterList
			s.skeleton = append(s.skeleton, raw...)
			return s.finishEntry()
		}
		s.skeleton = append(s.skeleton, raw...)
	}
}

// finishEntry returns the entry read so far and starts an empty one in the buffer of the
// entry returned before, which the caller is done with.
func (s *entryScanner) finishEntry() ([]byte, int, error) {
	t := s.entry
	s.entry, s.done = s.done[:0], t
	return t, s.start, nil
}

// readLine returns the next line with its line break; the slice is valid until the next
// call.
func (s *entryScanner) readLine() ([]byte, error) {
	s.buf = s.buf[:0]
	for {
		chunk, err := s.r.ReadSlice('\n')
		s.buf = append(s.buf, chunk...)
		s.size += int64(len(chunk))
		if s.size > MaxFileSize {
			return nil, errTooLarge
		}
		if err != bufio.ErrBufferFull {
			if len(s.buf) > 0 {
				s.line++
			}
			return s.buf, err
		}
	}
}

var errTooLarge = fmt.Errorf("is larger than %d MiB, the limit for an inventory; split the fleet into several inventories", MaxFileSize>>20)

// oddLineBreak reports whether a line holds a line break other than its final \n or
// \r\n. YAML also breaks lines at a lone \r and at NEL, LS and PS, which the scanner
// does not.
func oddLineBreak(text []byte) bool {
	return bytes.IndexByte(text, '\r') >= 0 || bytes.Contains(text, []byte("\u0085")) ||
		bytes.Contains(text, []byte("\u2028")) || bytes.Contains(text, []byte("\u2029"))
}

// parseEntry parses the text of one entry and returns its node with the line numbers it
// has in the whole file, or false when the text is not exactly one list entry.
func parseEntry(text []byte, line int) (*yaml.Node, bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil || len(doc.Content) != 1 {
		return nil, false
	}
	list := doc.Content[0]
	if list.Kind != yaml.SequenceNode || len(list.Content) != 1 {
		return nil, false
	}
	shiftLines(list.Content[0], line-1)
	return list.Content[0], true
}

func shiftLines(n *yaml.Node, by int) {
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}
