package mapping

import (
	"fmt"
	"strings"
)

// MaxAltSecIDLength bounds the altSecurityIdentities values ParseAltSecID
// accepts.
const MaxAltSecIDLength = 16 << 10

// MappingType is the form of an altSecurityIdentities value (reference 3.2).
type MappingType int

const (
	// TypeUnknown is the zero value; no parsed value has it.
	TypeUnknown MappingType = iota
	// X509IssuerSerialNumber: X509:<I>issuer<SR>reversed-serial. Strong.
	X509IssuerSerialNumber
	// X509SKI: X509:<SKI>hex keyIdentifier. Strong.
	X509SKI
	// X509SHA1PublicKey: X509:<SHA1-PUKEY>40 hex digits. Strong; which bytes
	// are hashed is unconfirmed (Q1).
	X509SHA1PublicKey
	// X509IssuerSubject: X509:<I>issuer<S>subject. Weak.
	X509IssuerSubject
	// X509SubjectOnly: X509:<S>subject. Weak.
	X509SubjectOnly
	// X509RFC822: X509:<RFC822>e-mail from the SAN. Weak.
	X509RFC822
	// X509NSubjectOnly: X509N:<S>subject (observed prefix). Treated as weak.
	X509NSubjectOnly
	// X509IssuerSID: X509:<I>issuer<SID>S-1-... Treated as weak (Q6).
	X509IssuerSID
	// KerberosPrincipal: Kerberos:principal maps an MIT-realm principal, not
	// a certificate. Ignored for certificate mapping, preserved on writes.
	KerberosPrincipal
)

var typeNames = [...]string{"unknown", "X509IssuerSerialNumber", "X509SKI", "X509SHA1PublicKey",
	"X509IssuerSubject", "X509SubjectOnly", "X509RFC822", "X509NSubjectOnly", "X509IssuerSID", "Kerberos"}

// String returns the KB5014754 name of the type.
func (t MappingType) String() string {
	if t < 0 || int(t) >= len(typeNames) {
		return fmt.Sprintf("MappingType(%d)", int(t))
	}
	return typeNames[t]
}

// Strength classifies a mapping (MS-PKCA 3.1.5.2.1.5).
type Strength int

const (
	// StrengthNone: no certificate mapping (no match, or a Kerberos value).
	StrengthNone Strength = iota
	// Weak mappings are logged and allowed in Compatibility and denied in
	// Enforcement unless the certificate carries the account's SID.
	Weak
	// Strong mappings are allowed in every mode without SID or date checks.
	Strong
)

// String returns "none", "weak" or "strong".
func (s Strength) String() string {
	switch s {
	case Weak:
		return "weak"
	case Strong:
		return "strong"
	}
	return "none"
}

// Strength returns the strength of the mapping type.
func (t MappingType) Strength() Strength {
	switch t {
	case X509IssuerSerialNumber, X509SKI, X509SHA1PublicKey:
		return Strong
	case X509IssuerSubject, X509SubjectOnly, X509RFC822, X509NSubjectOnly, X509IssuerSID:
		return Weak
	}
	return StrengthNone
}

// NTAuthChecked reports whether KB5057784 requires an NTAuth issuer for an
// explicit mapping of this type (reference 1.5).
func (t MappingType) NTAuthChecked() bool {
	switch t {
	case X509IssuerSerialNumber, X509SKI, X509SHA1PublicKey, X509IssuerSubject, X509NSubjectOnly:
		return true
	}
	return false
}

// AltSecID is a parsed altSecurityIdentities value. Field texts are kept as
// stored; the KDC compares whole values case-insensitively.
type AltSecID struct {
	Type MappingType
	// Issuer and Subject hold the <I> and <S> name texts.
	Issuer, Subject string
	// Serial holds the <SR> hex (reversed byte order), KeyID the <SKI> hex,
	// PublicKeySHA1 the <SHA1-PUKEY> hex, RFC822 the e-mail address, SID the
	// <SID> text and Principal the Kerberos principal.
	Serial, KeyID, PublicKeySHA1, RFC822, SID, Principal string
}

// Strength returns the strength of the value's type.
func (a AltSecID) Strength() Strength { return a.Type.Strength() }

// String returns the value in the exact form tegata emits (reference 3.2).
func (a AltSecID) String() string {
	switch a.Type {
	case X509IssuerSerialNumber:
		return "X509:<I>" + a.Issuer + "<SR>" + a.Serial
	case X509SKI:
		return "X509:<SKI>" + a.KeyID
	case X509SHA1PublicKey:
		return "X509:<SHA1-PUKEY>" + a.PublicKeySHA1
	case X509IssuerSubject:
		return "X509:<I>" + a.Issuer + "<S>" + a.Subject
	case X509SubjectOnly:
		return "X509:<S>" + a.Subject
	case X509RFC822:
		return "X509:<RFC822>" + a.RFC822
	case X509NSubjectOnly:
		return "X509N:<S>" + a.Subject
	case X509IssuerSID:
		return "X509:<I>" + a.Issuer + "<SID>" + a.SID
	case KerberosPrincipal:
		return "Kerberos:" + a.Principal
	}
	return ""
}

func malformed(v, why string) error {
	if len(v) > 80 {
		v = v[:80] + "..."
	}
	return fmt.Errorf("%w: %q: %s", ErrMalformedAltSecID, v, why)
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// ParseAltSecID parses one altSecurityIdentities value. Prefixes and tags
// are matched case-insensitively. Errors wrap ErrMalformedAltSecID.
func ParseAltSecID(v string) (AltSecID, error) {
	if len(v) > MaxAltSecIDLength {
		return AltSecID{}, malformed(v, fmt.Sprintf("longer than %d bytes", MaxAltSecIDLength))
	}
	switch {
	case hasPrefixFold(v, "Kerberos:"):
		return AltSecID{Type: KerberosPrincipal, Principal: v[len("Kerberos:"):]}, nil
	case hasPrefixFold(v, "X509N:"):
		rest := v[len("X509N:"):]
		if !hasPrefixFold(rest, "<S>") || len(rest) == 3 {
			return AltSecID{}, malformed(v, "X509N: must be followed by <S> and a subject")
		}
		return AltSecID{Type: X509NSubjectOnly, Subject: rest[3:]}, nil
	case !hasPrefixFold(v, "X509:"):
		return AltSecID{}, malformed(v, "does not start with X509:, X509N: or Kerberos:")
	}
	rest := v[len("X509:"):]
	single := []struct {
		tag string
		typ MappingType
	}{{"<SKI>", X509SKI}, {"<SHA1-PUKEY>", X509SHA1PublicKey}, {"<RFC822>", X509RFC822}, {"<S>", X509SubjectOnly}}
	for _, s := range single {
		if !hasPrefixFold(rest, s.tag) {
			continue
		}
		body := rest[len(s.tag):]
		if body == "" {
			return AltSecID{}, malformed(v, s.tag+" has an empty value")
		}
		a := AltSecID{Type: s.typ}
		switch s.typ {
		case X509SKI:
			if !isHex(body) {
				return AltSecID{}, malformed(v, "<SKI> is not an even number of hex digits")
			}
			a.KeyID = body
		case X509SHA1PublicKey:
			if len(body) != 40 || !isHex(body) {
				return AltSecID{}, malformed(v, "<SHA1-PUKEY> is not 40 hex digits")
			}
			a.PublicKeySHA1 = body
		case X509RFC822:
			a.RFC822 = body
		case X509SubjectOnly:
			a.Subject = body
		}
		return a, nil
	}
	if !hasPrefixFold(rest, "<I>") {
		return AltSecID{}, malformed(v, "unknown tag after X509:")
	}
	body := rest[3:]
	i, tag := findSecondTag(body)
	if i < 0 {
		return AltSecID{}, malformed(v, "<I> is not followed by <SR>, <S> or <SID>")
	}
	a := AltSecID{Issuer: body[:i]}
	tail := body[i+len(tag):]
	if a.Issuer == "" || tail == "" {
		return AltSecID{}, malformed(v, "empty issuer or empty value after "+tag)
	}
	switch strings.ToUpper(tag) {
	case "<SR>":
		if !isHex(tail) {
			return AltSecID{}, malformed(v, "<SR> is not an even number of hex digits")
		}
		a.Type, a.Serial = X509IssuerSerialNumber, tail
	case "<S>":
		a.Type, a.Subject = X509IssuerSubject, tail
	default:
		a.Type, a.SID = X509IssuerSID, tail
	}
	return a, nil
}

// findSecondTag finds the first <SR>, <SID> or <S> outside double quotes.
func findSecondTag(s string) (int, string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case '<':
			if inQuote {
				continue
			}
			for _, t := range [...]string{"<SR>", "<SID>", "<S>"} {
				if hasPrefixFold(s[i:], t) {
					return i, s[i : i+len(t)]
				}
			}
		}
	}
	return -1, ""
}

func isHex(s string) bool {
	if s == "" || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
