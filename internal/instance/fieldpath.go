package instance

import (
	"strconv"
	"strings"
)

// fieldPath locates a value inside an inventory entry, such as compute.tags["env"] or
// network.interface[0].macAddress, so an error can name it and find its line.
type fieldPath []pathSeg

type pathSeg struct {
	key   string // member name, or map key when inMap
	index int    // list position when key is ""
	inMap bool
}

// The methods below copy before appending, so paths that share a prefix never share
// storage.

func (p fieldPath) key(k string) fieldPath { return append(p[:len(p):len(p)], pathSeg{key: k}) }

func (p fieldPath) index(i int) fieldPath { return append(p[:len(p):len(p)], pathSeg{index: i}) }

func (p fieldPath) mapKey(k string) fieldPath {
	return append(p[:len(p):len(p)], pathSeg{key: k, inMap: true})
}

func (p fieldPath) String() string {
	var b strings.Builder
	for _, s := range p {
		switch {
		case s.inMap:
			b.WriteByte('[')
			b.WriteString(strconv.Quote(s.key))
			b.WriteByte(']')
		case s.key == "":
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		}
	}
	return b.String()
}

// fieldError is an error about one value of an instance. Line and Column are set when the
// decoder knows them; otherwise the loader finds them from the path.
type fieldError struct {
	path         fieldPath
	onKey        bool // the error is about a map key, not its value
	line, column int
	err          error
}

func (e *fieldError) Error() string {
	if len(e.path) == 0 {
		return e.err.Error()
	}
	return e.path.String() + ": " + e.err.Error()
}

func (e *fieldError) Unwrap() error { return e.err }
