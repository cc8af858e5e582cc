package mapping

import (
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// AttributeTypeAndValue is one attribute of a relative distinguished name,
// kept as encoded: the OID, the ASN.1 tag of the value and its content bytes.
type AttributeTypeAndValue struct {
	OID   string // dotted decimal
	Tag   byte   // universal tag of the value, e.g. 0x13 PrintableString
	Value []byte // content octets of the value
	raw   []byte // whole value encoding (for the # hex form)
}

// RDN is one relative distinguished name: its attributes in encoded order.
type RDN []AttributeTypeAndValue

// Name is a distinguished name in encoding order (the order of the DER
// SEQUENCE), which is the order the KDC renders. It is the reverse of the
// RFC 4514 / LDAP display order for typical names.
type Name []RDN

// cryptoAPIKeys maps OIDs to CryptoAPI's X.500 key names (CertNameToStr with
// CERT_X500_NAME_STR). OIDs not listed render as OID.<dotted-oid>.
var cryptoAPIKeys = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "S",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "T",
	"2.5.4.42":                   "G",
	"2.5.4.43":                   "I",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1":       "E",
}

// ParseName decodes a DER Name (SEQUENCE OF SET OF AttributeTypeAndValue),
// such as a certificate's raw issuer or subject.
func ParseName(der []byte) (Name, error) {
	r := derReader(der)
	seq, ok := r.read(tagSequence)
	if !ok || !r.empty() {
		return nil, fmt.Errorf("%w: name is not a single DER SEQUENCE", ErrMalformedCertificate)
	}
	var name Name
	rs := derReader(seq)
	for !rs.empty() {
		set, ok := rs.read(tagSet)
		if !ok {
			return nil, fmt.Errorf("%w: RDN %d is not a SET", ErrMalformedCertificate, len(name)+1)
		}
		var rdn RDN
		as := derReader(set)
		for !as.empty() {
			atv, ok := as.read(tagSequence)
			if !ok {
				return nil, fmt.Errorf("%w: RDN %d: attribute is not a SEQUENCE", ErrMalformedCertificate, len(name)+1)
			}
			ar := derReader(atv)
			oid, ok := ar.read(tagOID)
			s := oidString(oid)
			if !ok || s == "" {
				return nil, fmt.Errorf("%w: RDN %d: bad attribute type", ErrMalformedCertificate, len(name)+1)
			}
			tag, val, full, ok := ar.next()
			if !ok || !ar.empty() {
				return nil, fmt.Errorf("%w: RDN %d: bad attribute value", ErrMalformedCertificate, len(name)+1)
			}
			rdn = append(rdn, AttributeTypeAndValue{OID: s, Tag: tag, Value: val, raw: full})
		}
		if len(rdn) == 0 {
			return nil, fmt.Errorf("%w: RDN %d is empty", ErrMalformedCertificate, len(name)+1)
		}
		name = append(name, rdn)
	}
	return name, nil
}

// RenderName renders a DER name as the KDC builds the <I> and <S> parts of
// altSecurityIdentities (reference 3.3): RDNs in encoding order separated by
// "," with no space, attributes of a multi-valued RDN joined by one space,
// CryptoAPI key names, and CertNameToStr quoting ("..." around values that
// are empty, have leading or trailing white space or contain , + = " newline
// < > # ;, with inner quotes doubled; no backslash escapes).
//
// certain is false when the rendering depends on unconfirmed behaviour
// (reference Q10): an OID without a known key name, a BMPString,
// TeletexString, UniversalString or non-string value. Such a string is still
// returned so an existing value can be recognised; emitters refuse it.
func RenderName(der []byte) (s string, certain bool, err error) {
	var buf [128]byte
	b, certain, err := appendRenderedName(buf[:0], der)
	if err != nil {
		return "", false, err
	}
	return string(b), certain, nil
}

// Render renders n as RenderName does.
func (n Name) Render() (s string, certain bool) {
	certain = true
	var b strings.Builder
	for i, rdn := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, atv := range rdn {
			if j > 0 {
				b.WriteByte(' ')
			}
			key, ok := cryptoAPIKeys[atv.OID]
			if !ok {
				key = "OID." + atv.OID
				certain = false
			}
			b.WriteString(key)
			b.WriteByte('=')
			text, sure := atv.text()
			if !sure {
				certain = false
			}
			if isHexForm(text, atv) {
				b.WriteString(text) // #hex is written as is, never quoted
			} else {
				b.WriteString(quoteValue(text))
			}
		}
	}
	return b.String(), certain
}

// text decodes the value as CryptoAPI prints it. sure is false for types
// whose exact rendering needs a Windows fixture (reference Q10).
func (a AttributeTypeAndValue) text() (string, bool) {
	switch a.Tag {
	case tagPrintable, tagIA5String, tagNumeric, tagVisible:
		if !isASCII(a.Value) {
			return "#" + strings.ToUpper(hex.EncodeToString(a.raw)), false
		}
		return string(a.Value), true
	case tagUTF8String:
		if !utf8.Valid(a.Value) {
			return "#" + strings.ToUpper(hex.EncodeToString(a.raw)), false
		}
		return string(a.Value), true
	case tagBMPString:
		if len(a.Value)%2 != 0 {
			return "#" + strings.ToUpper(hex.EncodeToString(a.raw)), false
		}
		u := make([]uint16, len(a.Value)/2)
		for i := range u {
			u[i] = uint16(a.Value[2*i])<<8 | uint16(a.Value[2*i+1])
		}
		return string(utf16.Decode(u)), false
	case tagT61String:
		// Decoded as Latin-1; CryptoAPI's exact behaviour is unconfirmed (Q10).
		r := make([]rune, len(a.Value))
		for i, c := range a.Value {
			r[i] = rune(c)
		}
		return string(r), false
	default:
		// Hex of the whole encoding; whether CryptoAPI prints the whole
		// encoding or only the contents is unconfirmed (Q10).
		return "#" + strings.ToUpper(hex.EncodeToString(a.raw)), false
	}
}

// isHexForm reports whether text is the #hex form of the whole encoding.
func isHexForm(text string, a AttributeTypeAndValue) bool {
	return len(text) == 1+2*len(a.raw) && text[0] == '#' && text[1:] == strings.ToUpper(hex.EncodeToString(a.raw))
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// quoteValue applies CertNameToStr quoting.
func quoteValue(v string) string {
	need := v == "" || isSpace(v[0]) || isSpace(v[len(v)-1]) ||
		strings.ContainsAny(v, ",+=\"\r\n<>#;")
	if !need {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
