package mapping

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
)

// OIDs of the SID security extension and its otherName (MS-WCCE 2.2.2.7.7.4).
var (
	// OIDSIDExtension is szOID_NTDS_CA_SECURITY_EXT, 1.3.6.1.4.1.311.25.2.
	OIDSIDExtension = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 25, 2}
	// OIDSIDOtherName is szOID_NTDS_OBJECTSID, 1.3.6.1.4.1.311.25.2.1.
	OIDSIDOtherName = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 25, 2, 1}
	// OIDUPNOtherName is the Microsoft UPN otherName, 1.3.6.1.4.1.311.20.2.3.
	OIDUPNOtherName = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
)

// SANURLPrefix is the literal prefix of a SID carried in a SAN URL
// (MS-PKCA 3.1.5.2.1.6). The KDC compares it case-sensitively.
const SANURLPrefix = "tag:microsoft.com,2022-09-14:sid:"

// SIDState is the state of one SID source of a certificate (reference 5.1).
type SIDState int

const (
	// SIDAbsent: the source is not in the certificate.
	SIDAbsent SIDState = iota
	// SIDValid: exactly one SID that ConvertStringSidToSid accepts.
	SIDValid
	// SIDMalformed: the source does not decode, or its text does not convert.
	// The KDC fails the request with KRB_ERR_GENERIC (row 7).
	SIDMalformed
	// SIDDuplicate: two SIDs in the source; KRB_ERR_GENERIC as SIDMalformed.
	SIDDuplicate
	// SIDNone: the extension is present but holds no SID otherName. The
	// certificate has no SID and the SAN URL is not consulted (reference Q12).
	SIDNone
	// SIDIgnored: a SAN URL resembles the SID prefix but differs in case or
	// spacing; the KDC ignores it (row 11).
	SIDIgnored
)

var sidStateNames = [...]string{"absent", "valid", "malformed", "duplicate", "no SID", "ignored (non-canonical prefix)"}

// String returns the state in words.
func (s SIDState) String() string {
	if s < 0 || int(s) >= len(sidStateNames) {
		return fmt.Sprintf("SIDState(%d)", int(s))
	}
	return sidStateNames[s]
}

// SIDSource describes one place a certificate may carry its account's SID:
// the SID security extension or a SAN URL.
type SIDSource struct {
	State SIDState
	// Text is the SID text as carried (valid, or the unconvertible text).
	Text string
	// Canonical reports whether Text is in canonical S-1-... form; the KDC
	// also accepts lower case and SDDL aliases, which tegata's linter flags.
	Canonical bool
	// Err explains a malformed or duplicate state.
	Err error
}

// Resolve converts Text to a SID as the KDC would, resolving domain-relative
// SDDL aliases against domain.
func (s SIDSource) Resolve(domain SID) (SID, error) {
	if s.State != SIDValid {
		return SID{}, fmt.Errorf("%w: SID source is %s", ErrMalformedSID, s.State)
	}
	sid, _, err := ParseSIDText(s.Text, domain)
	return sid, err
}

// textConverts reports whether ConvertStringSidToSid would accept text in
// some domain; domain-relative aliases are accepted here and resolved later.
func textConverts(text string) (canonical bool, err error) {
	_, canonical, err = ParseSIDText(text, placeholderDomain)
	return canonical, err
}

// oidDERSIDOtherName is the DER contents of 1.3.6.1.4.1.311.25.2.1.
var oidDERSIDOtherName = encodeOID("1.3.6.1.4.1.311.25.2.1")

// placeholderDomain resolves domain-relative aliases when only whether a
// text converts matters.
var placeholderDomain = SID{Revision: 1, Authority: 5, SubAuthorities: []uint32{21, 1, 2, 3}}

// parseSIDExtensionValue reads the extnValue of the SID extension as the KDC
// does (reference 2.1): GeneralNames; every otherName with type-id
// 1.3.6.1.4.1.311.25.2.1 holds [0] EXPLICIT OCTET STRING with ASCII SID text.
func parseSIDExtensionValue(v []byte) SIDSource {
	r := derReader(v)
	seq, ok := r.read(tagSequence)
	if !ok || !r.empty() {
		return SIDSource{State: SIDMalformed, Err: fmt.Errorf("%w: value is not a GeneralNames SEQUENCE", ErrMalformedSIDExtension)}
	}
	var texts []string
	names := derReader(seq)
	for !names.empty() {
		tag, contents, _, ok := names.next()
		if !ok {
			return SIDSource{State: SIDMalformed, Err: fmt.Errorf("%w: truncated GeneralName", ErrMalformedSIDExtension)}
		}
		if tag != tagCtx0Cons {
			continue // another GeneralName choice
		}
		on := derReader(contents)
		oid, ok := on.read(tagOID)
		if !ok {
			return SIDSource{State: SIDMalformed, Err: fmt.Errorf("%w: otherName without type-id", ErrMalformedSIDExtension)}
		}
		if !bytes.Equal(oid, oidDERSIDOtherName) {
			continue
		}
		explicit, ok := on.read(tagCtx0Cons)
		if !ok || !on.empty() {
			return SIDSource{State: SIDMalformed, Err: fmt.Errorf("%w: SID otherName value is not [0] EXPLICIT", ErrMalformedSIDExtension)}
		}
		ex := derReader(explicit)
		text, ok := ex.read(tagOctetString)
		if !ok || !ex.empty() {
			return SIDSource{State: SIDMalformed, Err: fmt.Errorf("%w: SID otherName value is not an OCTET STRING", ErrMalformedSIDExtension)}
		}
		texts = append(texts, string(text))
	}
	switch len(texts) {
	case 0:
		return SIDSource{State: SIDNone}
	case 1:
	default:
		return SIDSource{State: SIDDuplicate, Text: texts[0], Err: fmt.Errorf("%w: %d SID otherNames in the SID extension", ErrDuplicateSID, len(texts))}
	}
	canonical, err := textConverts(texts[0])
	if err != nil {
		return SIDSource{State: SIDMalformed, Text: texts[0], Err: fmt.Errorf("%w: %w", ErrMalformedSIDExtension, err)}
	}
	return SIDSource{State: SIDValid, Text: texts[0], Canonical: canonical}
}

// ParseSIDExtension decodes the extnValue of a SID security extension and
// returns its SID. Domain-relative SDDL aliases cannot be resolved here and
// return ErrMalformedSID; use Certificate.SIDExtension for those.
func ParseSIDExtension(value []byte) (SID, error) {
	src := parseSIDExtensionValue(value)
	switch src.State {
	case SIDValid:
		sid, _, err := ParseSIDText(src.Text, SID{})
		return sid, err
	case SIDNone:
		return SID{}, fmt.Errorf("%w: no SID otherName", ErrMalformedSIDExtension)
	default:
		return SID{}, src.Err
	}
}

// MarshalSIDExtension returns the extnValue of a SID security extension
// carrying sid in canonical string form, exactly as AD CS encodes it.
func MarshalSIDExtension(sid SID) ([]byte, error) {
	if !sid.Valid() {
		return nil, fmt.Errorf("%w: cannot encode an invalid SID", ErrMalformedSID)
	}
	type otherName struct {
		TypeID asn1.ObjectIdentifier
		Value  []byte `asn1:"tag:0,explicit"`
	}
	on, err := asn1.MarshalWithParams(otherName{TypeID: OIDSIDOtherName, Value: []byte(sid.String())}, "tag:0")
	if err != nil {
		return nil, fmt.Errorf("mapping: encode SID otherName: %w", err)
	}
	return asn1.Marshal([]asn1.RawValue{{FullBytes: on}})
}

// SIDExtension returns the non-critical certificate extension carrying sid,
// ready for x509.Certificate.ExtraExtensions.
func SIDExtension(sid SID) (pkix.Extension, error) {
	v, err := MarshalSIDExtension(sid)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: OIDSIDExtension, Value: v}, nil
}

// SANURL returns the SAN URL that carries sid (MS-PKCA 3.1.5.2.1.6).
func SANURL(sid SID) string { return SANURLPrefix + sid.String() }

// sanURLSource evaluates the SAN URIs as the KDC does (reference 2.2): the
// first 33 characters compared case-sensitively with SANURLPrefix; a second
// match is an error; near misses are ignored.
func sanURLSource(uris []string) SIDSource {
	var texts []string
	nearMiss := false
	for _, u := range uris {
		if strings.HasPrefix(u, SANURLPrefix) {
			texts = append(texts, u[len(SANURLPrefix):])
			continue
		}
		squashed := strings.ToLower(strings.Join(strings.Fields(u), ""))
		if strings.Contains(squashed, SANURLPrefix) {
			nearMiss = true
		}
	}
	switch {
	case len(texts) == 0 && nearMiss:
		return SIDSource{State: SIDIgnored}
	case len(texts) == 0:
		return SIDSource{State: SIDAbsent}
	case len(texts) > 1:
		return SIDSource{State: SIDDuplicate, Text: texts[0], Err: fmt.Errorf("%w: %d SAN URLs with the SID prefix", ErrDuplicateSID, len(texts))}
	}
	canonical, err := textConverts(texts[0])
	if err != nil {
		return SIDSource{State: SIDMalformed, Text: texts[0], Err: fmt.Errorf("mapping: SAN URL SID: %w", err)}
	}
	return SIDSource{State: SIDValid, Text: texts[0], Canonical: canonical}
}
