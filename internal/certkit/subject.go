package certkit

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// valueKind says how an attribute's value is encoded.
type valueKind int

const (
	kindDirectory valueKind = iota // PrintableString when possible, else UTF8String
	kindPrintable                  // PrintableString only (serialNumber)
	kindCountry                    // PrintableString, exactly two characters
	kindIA5                        // IA5String (emailAddress, domainComponent)
)

// subjectAttrs lists the attribute types ParseSubject knows by name. The
// first name is the one FormatSubject writes.
var subjectAttrs = []struct {
	names []string
	oid   asn1.ObjectIdentifier
	kind  valueKind
}{
	{[]string{"CN"}, asn1.ObjectIdentifier{2, 5, 4, 3}, kindDirectory},
	{[]string{"SN", "SURNAME"}, asn1.ObjectIdentifier{2, 5, 4, 4}, kindDirectory},
	{[]string{"SERIALNUMBER"}, asn1.ObjectIdentifier{2, 5, 4, 5}, kindPrintable},
	{[]string{"C"}, asn1.ObjectIdentifier{2, 5, 4, 6}, kindCountry},
	{[]string{"L"}, asn1.ObjectIdentifier{2, 5, 4, 7}, kindDirectory},
	{[]string{"ST", "S"}, asn1.ObjectIdentifier{2, 5, 4, 8}, kindDirectory},
	{[]string{"STREET"}, asn1.ObjectIdentifier{2, 5, 4, 9}, kindDirectory},
	{[]string{"O"}, asn1.ObjectIdentifier{2, 5, 4, 10}, kindDirectory},
	{[]string{"OU"}, asn1.ObjectIdentifier{2, 5, 4, 11}, kindDirectory},
	{[]string{"T", "TITLE"}, asn1.ObjectIdentifier{2, 5, 4, 12}, kindDirectory},
	{[]string{"POSTALCODE"}, asn1.ObjectIdentifier{2, 5, 4, 17}, kindDirectory},
	{[]string{"G", "GN", "GIVENNAME"}, asn1.ObjectIdentifier{2, 5, 4, 42}, kindDirectory},
	{[]string{"I", "INITIALS"}, asn1.ObjectIdentifier{2, 5, 4, 43}, kindDirectory},
	{[]string{"DC"}, asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, kindIA5},
	{[]string{"UID"}, asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, kindDirectory},
	{[]string{"E", "EMAIL", "EMAILADDRESS"}, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, kindIA5},
}

// subjectAttr is one TYPE=value of a parsed subject.
type subjectAttr struct {
	oid   asn1.ObjectIdentifier
	kind  valueKind
	value string // the unescaped value; empty when der is set
	der   []byte // the DER value of a "#hex" value
}

// ParseSubject parses a Key Vault x509_props.subject such as
// "CN=www.example.com" or "CN=a, O=Org, OU=Unit, L=City, ST=State, C=JP".
//
// The syntax is RFC 4514 read leniently, as Windows and Key Vault write it:
// RDNs are separated by "," or ";" and multi-valued RDNs by "+"; the string
// lists the most specific RDN first (it is encoded last); attribute types are
// case-insensitive keywords (CN, SN, SERIALNUMBER, C, L, ST or S, STREET, O,
// OU, T, POSTALCODE, G, I, DC, UID, E or EMAIL for emailAddress
// 1.2.840.113549.1.9.1) or dotted OIDs, optionally prefixed "OID.";
// whitespace around types, values and separators is ignored; values may be
// quoted ("a, b", with \" or "" for a quote), escaped (\, \+ \; \" \\ \= and
// the like, or \XX hex bytes of UTF-8) or "#" followed by the hex DER of the
// value. C must be two characters, E and DC ASCII. An empty or all-blank
// string is the empty subject. Strings over MaxSubjectLength bytes are
// refused.
//
// The returned Name is filled as by pkix.Name.FillFromRDNSequence (the
// attribute fields and Names; ExtraNames is nil). Encoding it again loses
// attribute order, multi-valued RDNs and emailAddress, so CreateCSR and
// SelfSign encode the subject from the string itself, keeping all three.
func ParseSubject(s string) (pkix.Name, error) {
	rdns, err := parseSubject(s)
	if err != nil {
		return pkix.Name{}, err
	}
	var seq pkix.RDNSequence
	for i := len(rdns) - 1; i >= 0; i-- {
		var set pkix.RelativeDistinguishedNameSET
		for _, a := range rdns[i] {
			var v any = a.value
			if a.der != nil {
				v = asn1.RawValue{FullBytes: a.der}
			}
			set = append(set, pkix.AttributeTypeAndValue{Type: a.oid, Value: v})
		}
		seq = append(seq, set)
	}
	var name pkix.Name
	name.FillFromRDNSequence(&seq)
	return name, nil
}

// subjectDER returns the DER Name for a subject string (see ParseSubject).
func subjectDER(s string) ([]byte, error) {
	rdns, err := parseSubject(s)
	if err != nil {
		return nil, err
	}
	seq := pkix.RDNSequence{}
	for i := len(rdns) - 1; i >= 0; i-- {
		var set pkix.RelativeDistinguishedNameSET
		for _, a := range rdns[i] {
			v := asn1.RawValue{FullBytes: a.der}
			if a.der == nil {
				v = asn1.RawValue{Class: asn1.ClassUniversal, Tag: stringTag(a), Bytes: []byte(a.value)}
			}
			set = append(set, pkix.AttributeTypeAndValue{Type: a.oid, Value: v})
		}
		seq = append(seq, set)
	}
	return asn1.Marshal(seq)
}

// stringTag returns the ASN.1 string type for a parsed value.
func stringTag(a subjectAttr) int {
	switch {
	case a.kind == kindIA5:
		return asn1.TagIA5String
	case isPrintableString(a.value):
		return asn1.TagPrintableString
	default:
		return asn1.TagUTF8String
	}
}

// parseSubject returns the RDNs of s in string order (most specific first).
func parseSubject(s string) ([][]subjectAttr, error) {
	if len(s) > MaxSubjectLength {
		return nil, fmt.Errorf("%w: the subject is %d bytes; at most %d are allowed", ErrTooLarge, len(s), MaxSubjectLength)
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%w: the subject is not valid UTF-8", ErrBadSubject)
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	p := subjectParser{s: s}
	var rdns [][]subjectAttr
	var rdn []subjectAttr
	for {
		a, err := p.attr()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadSubject, err)
		}
		rdn = append(rdn, a)
		p.skipSpaces()
		if p.i == len(s) {
			return append(rdns, rdn), nil
		}
		if s[p.i] != '+' {
			rdns, rdn = append(rdns, rdn), nil
		}
		p.i++ // the separator: attr stops only at ',', ';', '+' or the end
	}
}

type subjectParser struct {
	s string
	i int
}

func (p *subjectParser) skipSpaces() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// attr reads one TYPE=value and leaves p at the next separator or the end.
func (p *subjectParser) attr() (subjectAttr, error) {
	p.skipSpaces()
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune("=,;+", rune(p.s[p.i])) {
		p.i++
	}
	if p.i == len(p.s) || p.s[p.i] != '=' {
		return subjectAttr{}, fmt.Errorf("expected TYPE=value at byte %d", start)
	}
	a, err := lookupAttrType(strings.TrimSpace(p.s[start:p.i]))
	if err != nil {
		return subjectAttr{}, err
	}
	p.i++ // '='
	p.skipSpaces()
	switch {
	case p.i < len(p.s) && p.s[p.i] == '"':
		a.value, err = p.quoted()
	case p.i < len(p.s) && p.s[p.i] == '#':
		a.der, err = p.hexValue()
	default:
		a.value, err = p.unquoted()
	}
	if err != nil {
		return subjectAttr{}, err
	}
	if a.der == nil {
		err = checkAttrValue(a)
	}
	return a, err
}

// lookupAttrType resolves a keyword or dotted OID.
func lookupAttrType(t string) (subjectAttr, error) {
	for _, at := range subjectAttrs {
		for _, n := range at.names {
			if strings.EqualFold(t, n) {
				return subjectAttr{oid: at.oid, kind: at.kind}, nil
			}
		}
	}
	dotted := t
	if len(t) > 4 && strings.EqualFold(t[:4], "OID.") {
		dotted = t[4:]
	}
	oid, err := parseOID(dotted)
	if err != nil {
		return subjectAttr{}, fmt.Errorf("unknown attribute type %q; use CN, O, OU, L, ST, C, E, DC, SERIALNUMBER or a dotted OID", truncate(t))
	}
	for _, at := range subjectAttrs {
		if at.oid.Equal(oid) {
			return subjectAttr{oid: at.oid, kind: at.kind}, nil
		}
	}
	return subjectAttr{oid: oid, kind: kindDirectory}, nil
}

// unquoted reads a value up to the next unescaped separator, dropping
// unescaped trailing spaces.
func (p *subjectParser) unquoted() (string, error) {
	var b []byte
	keep := 0 // len(b) up to the last character that is not a trailing space
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == ',' || c == ';' || c == '+':
			return string(b[:keep]), nil
		case c == '\\':
			var err error
			if b, err = p.escape(b); err != nil {
				return "", err
			}
			keep = len(b)
		default:
			b = append(b, c)
			p.i++
			if c != ' ' {
				keep = len(b)
			}
		}
	}
	return string(b[:keep]), nil
}

// quoted reads a "..." value and checks that only spaces follow it before
// the next separator.
func (p *subjectParser) quoted() (string, error) {
	start := p.i
	p.i++ // opening quote
	var b []byte
	for {
		if p.i >= len(p.s) {
			return "", fmt.Errorf("unterminated quoted value starting at byte %d", start)
		}
		c := p.s[p.i]
		if c == '\\' {
			var err error
			if b, err = p.escape(b); err != nil {
				return "", err
			}
			continue
		}
		p.i++
		if c == '"' {
			if p.i < len(p.s) && p.s[p.i] == '"' { // "" is a quote, as Windows writes it
				b = append(b, '"')
				p.i++
				continue
			}
			break
		}
		b = append(b, c)
	}
	p.skipSpaces()
	if p.i < len(p.s) && !strings.ContainsRune(",;+", rune(p.s[p.i])) {
		return "", fmt.Errorf("unexpected text after the quoted value at byte %d", p.i)
	}
	return string(b), nil
}

// escape appends the character or \XX byte escaped at p.i.
func (p *subjectParser) escape(b []byte) ([]byte, error) {
	if p.i+1 >= len(p.s) {
		return nil, fmt.Errorf("backslash at the end of the subject")
	}
	if p.i+2 < len(p.s) && isHex(p.s[p.i+1]) && isHex(p.s[p.i+2]) {
		v, _ := hex.DecodeString(p.s[p.i+1 : p.i+3])
		p.i += 3
		return append(b, v[0]), nil
	}
	c := p.s[p.i+1]
	if !strings.ContainsRune(`,;+"\<>=# `, rune(c)) {
		return nil, fmt.Errorf("unknown escape \\%c at byte %d; escape only , ; + \" \\ < > = # and space, or write \\XX hex", c, p.i)
	}
	p.i += 2
	return append(b, c), nil
}

// hexValue reads "#" followed by the hex of one DER value.
func (p *subjectParser) hexValue() ([]byte, error) {
	start := p.i
	p.i++ // '#'
	for p.i < len(p.s) && isHex(p.s[p.i]) {
		p.i++
	}
	der, err := hex.DecodeString(p.s[start+1 : p.i])
	if err != nil || len(der) == 0 {
		return nil, fmt.Errorf("the #hex value at byte %d is not an even number of hex digits", start)
	}
	var v asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &v); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("the #hex value at byte %d is not one DER value", start)
	}
	p.skipSpaces()
	if p.i < len(p.s) && !strings.ContainsRune(",;+", rune(p.s[p.i])) {
		return nil, fmt.Errorf("unexpected text after the #hex value at byte %d", p.i)
	}
	return der, nil
}

// checkAttrValue checks an unescaped value against what its type needs.
func checkAttrValue(a subjectAttr) error {
	name := a.oid.String()
	switch {
	case a.value == "":
		return fmt.Errorf("empty value for %s", name)
	case !utf8.ValidString(a.value):
		return fmt.Errorf("the value for %s is not valid UTF-8", name)
	case a.kind == kindCountry && (len(a.value) != 2 || !isPrintableString(a.value)):
		return fmt.Errorf("C must be a two-letter country code, e.g. C=JP")
	case a.kind == kindPrintable && !isPrintableString(a.value):
		return fmt.Errorf("the value for %s may hold only letters, digits, spaces and '()+,-./:=?", name)
	case a.kind == kindIA5 && !isASCII(a.value):
		return fmt.Errorf("the value for %s must be ASCII", name)
	}
	return nil
}

// FormatSubject writes a DER Name (such as a certificate's RawSubject) the
// way Key Vault shows subjects: the most specific RDN first, ", " between
// RDNs, "+" inside multi-valued ones, short type names where ParseSubject
// knows one and dotted OIDs otherwise, RFC 4514 escapes, and "#hex" for
// values that are not strings. ParseSubject reads the result back to the
// same attributes.
func FormatSubject(der []byte) (string, error) {
	var seq rawRDNSequence
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) != 0 {
		return "", fmt.Errorf("%w: the certificate subject is not a DER Name", ErrBadSubject)
	}
	var parts []string
	for i := len(seq) - 1; i >= 0; i-- {
		var atvs []string
		for _, atv := range seq[i] {
			atvs = append(atvs, attrName(atv.Type)+"="+formatValue(atv.Value))
		}
		parts = append(parts, strings.Join(atvs, "+"))
	}
	return strings.Join(parts, ", "), nil
}

type rawATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// rawRDNSET is a SET OF (encoding/asn1 reads the "SET" suffix).
type rawRDNSET []rawATV

type rawRDNSequence []rawRDNSET

func attrName(oid asn1.ObjectIdentifier) string {
	for _, at := range subjectAttrs {
		if at.oid.Equal(oid) {
			return at.names[0]
		}
	}
	return oid.String()
}

// formatValue returns an escaped string value, or "#hex" of the DER.
func formatValue(v asn1.RawValue) string {
	var s string
	switch {
	case v.Class != asn1.ClassUniversal:
		return "#" + hex.EncodeToString(v.FullBytes)
	case v.Tag == asn1.TagPrintableString || v.Tag == asn1.TagUTF8String || v.Tag == asn1.TagIA5String || v.Tag == asn1.TagNumericString:
		s = string(v.Bytes)
	case v.Tag == asn1.TagBMPString && len(v.Bytes)%2 == 0:
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		s = string(utf16.Decode(u))
	default:
		return "#" + hex.EncodeToString(v.FullBytes)
	}
	if s == "" || !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
		return "#" + hex.EncodeToString(v.FullBytes)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.IndexByte(`,;+"\<>=`, c) >= 0,
			c == '#' && i == 0,
			c == ' ' && (i == 0 || i == len(s)-1):
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// isPrintableString reports whether s fits an ASN.1 PrintableString.
func isPrintableString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(" '()+,-./:=?", c) >= 0) {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
