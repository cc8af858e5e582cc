package mapping

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// MaxSubAuthorities is the largest number of sub-authorities a SID may
// carry (MS-DTYP 2.4.2.2).
const MaxSubAuthorities = 15

// SID is a Windows security identifier (MS-DTYP 2.4.2). The zero SID is
// invalid; SIDs are compared with Equal, never as strings, because aliases,
// case and leading zeros differ between string forms.
type SID struct {
	// Revision is always 1 for valid SIDs.
	Revision uint8
	// Authority is the 48-bit identifier authority (5 for NT AUTHORITY).
	Authority uint64
	// SubAuthorities holds 0 to 15 sub-authorities; the last one of a
	// domain account SID is its RID.
	SubAuthorities []uint32
}

// ParseBinarySID decodes a binary objectSid: revision (1 byte), sub-authority
// count n (1 byte), authority (6 bytes, big-endian), then n little-endian
// uint32 sub-authorities. The input length must be exactly 8+4n.
func ParseBinarySID(b []byte) (SID, error) {
	if len(b) < 8 {
		return SID{}, fmt.Errorf("%w: binary SID of %d bytes is shorter than the 8-byte header", ErrMalformedSID, len(b))
	}
	if b[0] != 1 {
		return SID{}, fmt.Errorf("%w: binary SID revision %d, want 1", ErrMalformedSID, b[0])
	}
	n := int(b[1])
	if n > MaxSubAuthorities {
		return SID{}, fmt.Errorf("%w: %d sub-authorities, at most %d allowed", ErrMalformedSID, n, MaxSubAuthorities)
	}
	if len(b) != 8+4*n {
		return SID{}, fmt.Errorf("%w: binary SID with %d sub-authorities must be %d bytes, got %d", ErrMalformedSID, n, 8+4*n, len(b))
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	s := SID{Revision: 1, Authority: auth, SubAuthorities: make([]uint32, n)}
	for i := range n {
		s.SubAuthorities[i] = binary.LittleEndian.Uint32(b[8+4*i:])
	}
	return s, nil
}

// Bytes returns the binary objectSid form of s.
func (s SID) Bytes() []byte {
	b := make([]byte, 8+4*len(s.SubAuthorities))
	b[0] = s.Revision
	b[1] = byte(len(s.SubAuthorities))
	for i := 0; i < 6; i++ {
		b[2+i] = byte(s.Authority >> (8 * (5 - i)))
	}
	for i, v := range s.SubAuthorities {
		binary.LittleEndian.PutUint32(b[8+4*i:], v)
	}
	return b
}

// String returns the canonical string form S-1-<authority>-<sub>..., with
// the authority in decimal below 2^32 and otherwise as 0x plus 12 upper-case
// hex digits (MS-DTYP 2.4.2.1). An invalid SID renders as "<invalid SID>".
func (s SID) String() string {
	if !s.Valid() {
		return "<invalid SID>"
	}
	var buf [sidTextMax]byte
	return string(s.appendText(buf[:0]))
}

// sidTextMax bounds the length of a SID's text.
const sidTextMax = 8 + 20 + MaxSubAuthorities*11

// appendText appends the text of a valid SID.
func (s SID) appendText(b []byte) []byte {
	b = append(b, "S-"...)
	b = strconv.AppendUint(b, uint64(s.Revision), 10)
	b = append(b, '-')
	if s.Authority < 1<<32 {
		b = strconv.AppendUint(b, s.Authority, 10)
	} else {
		b = fmt.Appendf(b, "0x%012X", s.Authority)
	}
	for _, v := range s.SubAuthorities {
		b = append(b, '-')
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return b
}

// Valid reports whether s has revision 1, a 48-bit authority and at most
// 15 sub-authorities.
func (s SID) Valid() bool {
	return s.Revision == 1 && s.Authority < 1<<48 && len(s.SubAuthorities) <= MaxSubAuthorities
}

// Equal reports whether s and o are the same SID, compared numerically.
func (s SID) Equal(o SID) bool {
	if s.Revision != o.Revision || s.Authority != o.Authority || len(s.SubAuthorities) != len(o.SubAuthorities) {
		return false
	}
	for i := range s.SubAuthorities {
		if s.SubAuthorities[i] != o.SubAuthorities[i] {
			return false
		}
	}
	return true
}

// Domain returns the SID without its last sub-authority (the domain SID of a
// domain account) and false when s has no sub-authority.
func (s SID) Domain() (SID, bool) {
	if len(s.SubAuthorities) == 0 {
		return SID{}, false
	}
	return SID{Revision: s.Revision, Authority: s.Authority, SubAuthorities: s.SubAuthorities[:len(s.SubAuthorities)-1]}, true
}

// RID returns the last sub-authority and false when s has none.
func (s SID) RID() (uint32, bool) {
	if len(s.SubAuthorities) == 0 {
		return 0, false
	}
	return s.SubAuthorities[len(s.SubAuthorities)-1], true
}

// ParseSID parses the string form S-1-<authority>-<sub>... . It accepts what
// ConvertStringSidToSid accepts for the numeric form: a lower-case "s-" and
// an authority written in decimal or as 0x plus hex digits. SDDL aliases
// (BA, DA...) are handled by ParseSIDText, which needs the domain.
func ParseSID(s string) (SID, error) {
	if len(s) > 200 {
		return SID{}, fmt.Errorf("%w: string SID of %d characters is too long", ErrMalformedSID, len(s))
	}
	if len(s) < 2 || (s[0] != 'S' && s[0] != 's') || s[1] != '-' {
		return SID{}, fmt.Errorf("%w: %q does not start with S-", ErrMalformedSID, s)
	}
	// Split on "-" into a fixed array: revision, authority and at most one
	// field more than the sub-authorities allowed (to say there are too many).
	var fields [2 + MaxSubAuthorities + 1]string
	n := 0
	for rest := s[2:]; ; {
		i := strings.IndexByte(rest, '-')
		if n == len(fields) {
			n++ // too many: counted, not kept
			if i < 0 {
				break
			}
			rest = rest[i+1:]
			continue
		}
		if i < 0 {
			fields[n] = rest
			n++
			break
		}
		fields[n], rest = rest[:i], rest[i+1:]
		n++
	}
	if n < 2 {
		return SID{}, fmt.Errorf("%w: %q has no authority", ErrMalformedSID, s)
	}
	parts := fields[:min(n, len(fields))]
	if parts[0] != "1" {
		return SID{}, fmt.Errorf("%w: %q has revision %q, want 1", ErrMalformedSID, s, parts[0])
	}
	var auth uint64
	var err error
	if a := parts[1]; len(a) > 2 && (a[:2] == "0x" || a[:2] == "0X") {
		auth, err = strconv.ParseUint(a[2:], 16, 48)
	} else {
		auth, err = parseDecimal(a, 48)
	}
	if err != nil {
		return SID{}, fmt.Errorf("%w: %q has an invalid authority %q", ErrMalformedSID, s, parts[1])
	}
	subs := parts[2:]
	if n-2 > MaxSubAuthorities {
		return SID{}, fmt.Errorf("%w: %q has %d sub-authorities, at most %d allowed", ErrMalformedSID, s, n-2, MaxSubAuthorities)
	}
	sid := SID{Revision: 1, Authority: auth, SubAuthorities: make([]uint32, len(subs))}
	for i, p := range subs {
		v, err := parseDecimal(p, 32)
		if err != nil {
			return SID{}, fmt.Errorf("%w: %q has an invalid sub-authority %q", ErrMalformedSID, s, p)
		}
		sid.SubAuthorities[i] = uint32(v)
	}
	return sid, nil
}

// parseDecimal parses ASCII digits only (no sign, no spaces) into bits bits.
func parseDecimal(s string, bits int) (uint64, error) {
	if s == "" {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseUint(s, 10, bits)
}

// sddlAlias describes an SDDL SID string alias accepted by
// ConvertStringSidToSid: either a fixed SID or a RID relative to the domain.
type sddlAlias struct {
	fixed string
	rid   uint32
}

// sddlAliases lists the aliases tegata resolves. Domain-relative ones need
// the account's domain SID.
var sddlAliases = map[string]sddlAlias{
	"AN": {fixed: "S-1-5-7"}, "AU": {fixed: "S-1-5-11"}, "BA": {fixed: "S-1-5-32-544"},
	"BG": {fixed: "S-1-5-32-546"}, "BU": {fixed: "S-1-5-32-545"}, "IU": {fixed: "S-1-5-4"},
	"LS": {fixed: "S-1-5-19"}, "NS": {fixed: "S-1-5-20"}, "SY": {fixed: "S-1-5-18"},
	"WD": {fixed: "S-1-1-0"}, "NU": {fixed: "S-1-5-2"}, "SU": {fixed: "S-1-5-6"},
	"ED": {fixed: "S-1-5-9"}, "PS": {fixed: "S-1-5-10"},
	"LA": {rid: 500}, "LG": {rid: 501}, "DA": {rid: 512}, "DU": {rid: 513},
	"DG": {rid: 514}, "DC": {rid: 515}, "DD": {rid: 516}, "CA": {rid: 517},
}

// ParseSIDText converts SID text as the KDC's ConvertStringSidToSid would:
// the numeric form accepted by ParseSID or an SDDL alias. Domain-relative
// aliases (DA, DU, LA...) resolve against domain; with an invalid domain they
// fail. canonical reports whether text is the canonical form that
// SID.String produces (tegata's linter flags anything else).
func ParseSIDText(text string, domain SID) (sid SID, canonical bool, err error) {
	if a, ok := sddlAliases[strings.ToUpper(text)]; ok {
		if a.fixed != "" {
			sid, err = ParseSID(a.fixed)
			return sid, false, err
		}
		if !domain.Valid() || len(domain.SubAuthorities) >= MaxSubAuthorities {
			return SID{}, false, fmt.Errorf("%w: alias %q needs a domain SID", ErrMalformedSID, text)
		}
		subs := append(append([]uint32(nil), domain.SubAuthorities...), a.rid)
		return SID{Revision: 1, Authority: domain.Authority, SubAuthorities: subs}, false, nil
	}
	sid, err = ParseSID(text)
	if err != nil {
		return SID{}, false, err
	}
	var buf [sidTextMax]byte
	return sid, string(sid.appendText(buf[:0])) == text, nil
}
