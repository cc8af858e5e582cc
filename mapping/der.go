package mapping

// A minimal DER reader over the standard library only. It never panics and
// never allocates: every read checks lengths against the remaining input.

// DER tags used by the walkers (class and constructed bits included).
const (
	tagBoolean     = 0x01
	tagInteger     = 0x02
	tagBitString   = 0x03
	tagOctetString = 0x04
	tagOID         = 0x06
	tagUTF8String  = 0x0C
	tagPrintable   = 0x13
	tagT61String   = 0x14
	tagIA5String   = 0x16
	tagUTCTime     = 0x17
	tagGenTime     = 0x18
	tagNumeric     = 0x12
	tagVisible     = 0x1A
	tagUniversal   = 0x1C
	tagBMPString   = 0x1E
	tagSequence    = 0x30
	tagSet         = 0x31
	tagCtx0Cons    = 0xA0 // [0] constructed
	tagCtx3Cons    = 0xA3 // [3] constructed
)

// derReader walks DER elements. A zero derReader is empty.
type derReader []byte

// empty reports whether no bytes remain.
func (r derReader) empty() bool { return len(r) == 0 }

// next reads one element with a single-byte tag and returns its tag, its
// contents and the whole encoding. ok is false on truncated input,
// multi-byte tags, indefinite or non-minimal lengths.
func (r *derReader) next() (tag byte, contents, full []byte, ok bool) {
	in := *r
	if len(in) < 2 {
		return 0, nil, nil, false
	}
	tag = in[0]
	if tag&0x1F == 0x1F {
		return 0, nil, nil, false
	}
	l := int(in[1])
	hdr := 2
	if l&0x80 != 0 {
		n := l & 0x7F
		if n == 0 || n > 4 || len(in) < 2+n {
			return 0, nil, nil, false
		}
		l = 0
		for i := 0; i < n; i++ {
			l = l<<8 | int(in[2+i])
		}
		if l < 0x80 || (n > 1 && in[2] == 0) {
			return 0, nil, nil, false
		}
		hdr += n
	}
	if l < 0 || len(in)-hdr < l {
		return 0, nil, nil, false
	}
	full = in[:hdr+l]
	contents = in[hdr : hdr+l]
	*r = in[hdr+l:]
	return tag, contents, full, true
}

// read reads one element that must carry the given tag.
func (r *derReader) read(want byte) (contents []byte, ok bool) {
	save := *r
	tag, c, _, ok := r.next()
	if !ok || tag != want {
		*r = save
		return nil, false
	}
	return c, true
}

// peek returns the tag of the next element without consuming it.
func (r derReader) peek() (byte, bool) {
	if len(r) == 0 {
		return 0, false
	}
	return r[0], true
}

// oidString renders DER OID contents as dotted decimal, or "" if invalid.
func oidString(b []byte) string {
	if len(b) == 0 || b[len(b)-1]&0x80 != 0 {
		return ""
	}
	var out []byte
	var v uint64
	first := true
	for _, c := range b {
		if v == 0 && c == 0x80 {
			return "" // non-minimal
		}
		if v > (1<<56)-1 {
			return ""
		}
		v = v<<7 | uint64(c&0x7F)
		if c&0x80 != 0 {
			continue
		}
		if first {
			var a uint64
			switch {
			case v < 40:
				a = 0
			case v < 80:
				a = 1
			default:
				a = 2
			}
			out = appendUint(out, a)
			out = append(out, '.')
			out = appendUint(out, v-40*a)
			first = false
		} else {
			out = append(out, '.')
			out = appendUint(out, v)
		}
		v = 0
	}
	return string(out)
}

func appendUint(b []byte, v uint64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}
