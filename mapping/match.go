package mapping

import (
	"strings"
)

// MatchClass classifies a stored altSecurityIdentities value against a
// certificate (reference 3.7).
type MatchClass int

const (
	// MatchUnparseable: the value has none of the known forms.
	MatchUnparseable MatchClass = iota
	// MatchExact: the value equals a candidate of the certificate, ignoring
	// case. The KDC matches it.
	MatchExact
	// MatchNormalisedOnly: the value equals a candidate only after removing
	// spaces after commas, reversing RDN order, stripping quotes or
	// backslash escapes, using RFC 4514 key names, or reversing the serial.
	// The KDC does not normalise (observed), so it is a broken mapping.
	MatchNormalisedOnly
	// MatchOtherCertificate: a well-formed strong value for another serial
	// or key, typically a stale mapping.
	MatchOtherCertificate
	// MatchUnrelated: a well-formed weak value that does not match.
	MatchUnrelated
	// MatchNotCertificate: a Kerberos: value, ignored for certificates.
	MatchNotCertificate
)

var matchNames = [...]string{"unparseable", "exact", "normalised-only", "other-certificate", "unrelated", "not-certificate"}

// String returns the class name used in reports.
func (m MatchClass) String() string {
	if m < 0 || int(m) >= len(matchNames) {
		return "unknown"
	}
	return matchNames[m]
}

// MatchResult is the classification of one stored value.
type MatchResult struct {
	Class MatchClass
	// Type is the value's mapping type (TypeUnknown when unparseable).
	Type MappingType
	// Labels are the candidate's unconfirmed assumptions on an exact match.
	Labels []Label
}

// ClassifyValue classifies a stored altSecurityIdentities value against the
// candidates of cert (see Candidates; pass nil to compute them).
func ClassifyValue(cert *Certificate, cands []Candidate, value string) MatchResult {
	if cands == nil {
		cands = Candidates(cert)
	}
	for _, c := range cands {
		if strings.EqualFold(c.Value, value) {
			return MatchResult{Class: MatchExact, Type: c.Type, Labels: c.Labels}
		}
	}
	a, err := ParseAltSecID(value)
	if err != nil {
		return MatchResult{Class: MatchUnparseable}
	}
	if a.Type == KerberosPrincipal {
		return MatchResult{Class: MatchNotCertificate, Type: a.Type}
	}
	for _, c := range cands {
		if c.Type != a.Type {
			continue
		}
		ca, err := ParseAltSecID(c.Value)
		if err == nil && normalisedEqual(a, ca) {
			return MatchResult{Class: MatchNormalisedOnly, Type: a.Type}
		}
	}
	if a.Strength() == Strong {
		return MatchResult{Class: MatchOtherCertificate, Type: a.Type}
	}
	return MatchResult{Class: MatchUnrelated, Type: a.Type}
}

func normalisedEqual(a, b AltSecID) bool {
	if !dnEqualLoose(a.Issuer, b.Issuer) || !dnEqualLoose(a.Subject, b.Subject) {
		return false
	}
	switch a.Type {
	case X509IssuerSerialNumber:
		x, y := squash(a.Serial), squash(b.Serial)
		return x == y || x == reverseHexBytes(y)
	case X509SKI:
		return squash(a.KeyID) == squash(b.KeyID)
	case X509SHA1PublicKey:
		return squash(a.PublicKeySHA1) == squash(b.PublicKeySHA1)
	case X509RFC822:
		return squash(a.RFC822) == squash(b.RFC822)
	case X509IssuerSID:
		return squash(a.SID) == squash(b.SID)
	}
	return true
}

func squash(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), "")) }

func reverseHexBytes(s string) string {
	if len(s)%2 != 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := len(s) - 2; i >= 0; i -= 2 {
		b = append(b, s[i], s[i+1])
	}
	return string(b)
}

// keySynonyms maps RFC 4514 and OpenSSL key names to CryptoAPI's.
var keySynonyms = map[string]string{"st": "s", "emailaddress": "e", "street": "street", "sn": "sn"}

// dnEqualLoose compares two rendered names after loose normalisation, in
// either RDN order.
func dnEqualLoose(a, b string) bool {
	if a == b {
		return true
	}
	x, y := looseRDNs(a), looseRDNs(b)
	if len(x) != len(y) {
		return false
	}
	same, reversed := true, true
	for i := range x {
		if x[i] != y[i] {
			same = false
		}
		if x[i] != y[len(y)-1-i] {
			reversed = false
		}
	}
	return same || reversed
}

// looseRDNs splits a name on commas outside quotes (honouring backslash
// escapes) and normalises each part: trimmed, lower case, no quotes or
// backslashes, key synonyms folded.
func looseRDNs(s string) []string {
	var parts []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())
	for i, p := range parts {
		p = strings.ToLower(strings.TrimSpace(p))
		if k, v, ok := strings.Cut(p, "="); ok {
			k = strings.TrimSpace(k)
			if syn, ok := keySynonyms[k]; ok {
				k = syn
			}
			p = k + "=" + strings.TrimSpace(v)
		}
		parts[i] = p
	}
	return parts
}
