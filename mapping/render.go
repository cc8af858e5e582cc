package mapping

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// ReversedSerial returns the <SR> form of a raw serial: the content octets
// of the serial INTEGER (sign byte included) in reverse byte order, each byte
// as two upper-case hex digits (reference 3.4). A1 B2 C3 gives "C3B2A1".
//
// A leading 00 sign byte is kept and becomes a trailing "00"; whether the
// KDC keeps it is unconfirmed (Q2), and matching accepts both forms.
func ReversedSerial(raw []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(raw))
	for i := len(raw) - 1; i >= 0; i-- {
		out = append(out, digits[raw[i]>>4], digits[raw[i]&0x0F])
	}
	return string(out)
}

// Render returns the altSecurityIdentities value of type t for cert, in the
// exact form tegata emits. Only the strong types tegata recommends are
// emitted: X509IssuerSerialNumber (ErrUnrenderableName when the issuer name
// depends on unconfirmed rendering) and X509SKI (ErrNoSKI without the
// extension). Every other type returns ErrNotEmitted.
func Render(cert *Certificate, t MappingType) (string, error) {
	switch t {
	case X509IssuerSerialNumber:
		if !cert.IssuerCertain {
			return "", fmt.Errorf("%w: issuer %q", ErrUnrenderableName, cert.Issuer)
		}
		return AltSecID{Type: t, Issuer: cert.Issuer, Serial: ReversedSerial(cert.RawSerial)}.String(), nil
	case X509SKI:
		if len(cert.SubjectKeyID) == 0 {
			return "", ErrNoSKI
		}
		return AltSecID{Type: t, KeyID: strings.ToUpper(hex.EncodeToString(cert.SubjectKeyID))}.String(), nil
	}
	return "", fmt.Errorf("%w: %s", ErrNotEmitted, t)
}

// StrongMappings returns the strong values tegata would add for cert, in
// order of preference: X509IssuerSerialNumber, then X509SKI when the
// certificate has the extension. Types that cannot be rendered are skipped;
// the result is empty when none can.
func StrongMappings(cert *Certificate) []string {
	var out []string
	for _, t := range [...]MappingType{X509IssuerSerialNumber, X509SKI} {
		if v, err := Render(cert, t); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// Candidate is one value the KDC would compare with an account's
// altSecurityIdentities for a certificate.
type Candidate struct {
	Type  MappingType
	Value string
	// Labels record unconfirmed assumptions the candidate depends on.
	Labels []Label
}

// Candidates returns every value the KDC would accept for cert, weak and
// strong (reference 3.7): IssuerSerial (plus the variant without a trailing
// sign byte, Q2), SKI, the three SHA1-PUKEY inputs (Q1), IssuerSubject,
// SubjectOnly, X509N SubjectOnly, one RFC822 per SAN e-mail, and
// Issuer+SID when the SID extension is valid (Q6).
func Candidates(cert *Certificate) []Candidate {
	// The values are written into one buffer and sliced from one string:
	// an audit renders the candidates of every certificate.
	nameLabels := labelsNone
	if !cert.IssuerCertain || !cert.SubjectCertain {
		nameLabels = labelsName
	}
	out := make([]Candidate, 0, 10+len(cert.RFC822Names))
	ends := make([]int, 0, cap(out))
	size := 3*len(cert.Issuer) + 3*len(cert.Subject) + 4*len(cert.RawSerial) + 2*len(cert.SubjectKeyID) + 320
	for _, e := range cert.RFC822Names {
		size += len(e) + 13
	}
	buf := make([]byte, 0, size)
	add := func(t MappingType, labels []Label) {
		out = append(out, Candidate{Type: t, Labels: labels})
		ends = append(ends, len(buf))
	}
	buf = append(buf, "X509:<I>"...)
	buf = append(buf, cert.Issuer...)
	buf = append(buf, "<SR>"...)
	buf = appendReversedSerial(buf, cert.RawSerial)
	add(X509IssuerSerialNumber, nameLabels)
	if len(cert.RawSerial) > 1 && cert.RawSerial[0] == 0 {
		buf = append(buf, "X509:<I>"...)
		buf = append(buf, cert.Issuer...)
		buf = append(buf, "<SR>"...)
		buf = appendReversedSerial(buf, cert.RawSerial[1:])
		add(X509IssuerSerialNumber, pick(nameLabels, labelsSignByte, labelsSignByteName))
	}
	if len(cert.SubjectKeyID) > 0 {
		buf = append(buf, "X509:<SKI>"...)
		buf = appendUpperHex(buf, cert.SubjectKeyID)
		add(X509SKI, nil)
	}
	for i, sum := range [...]*[20]byte{&cert.KeyHashes.Thumbprint, &cert.KeyHashes.SPKI, &cert.KeyHashes.SubjectPublicKey} {
		buf = append(buf, "X509:<SHA1-PUKEY>"...)
		buf = appendUpperHex(buf, sum[:])
		add(X509SHA1PublicKey, labelsPublicKey[i])
	}
	buf = append(buf, "X509:<I>"...)
	buf = append(buf, cert.Issuer...)
	buf = append(buf, "<S>"...)
	buf = append(buf, cert.Subject...)
	add(X509IssuerSubject, nameLabels)
	buf = append(buf, "X509:<S>"...)
	buf = append(buf, cert.Subject...)
	add(X509SubjectOnly, nameLabels)
	buf = append(buf, "X509N:<S>"...)
	buf = append(buf, cert.Subject...)
	add(X509NSubjectOnly, pick(nameLabels, labelsX509N, labelsX509NName))
	for _, e := range cert.RFC822Names {
		buf = append(buf, "X509:<RFC822>"...)
		buf = append(buf, e...)
		add(X509RFC822, nil)
	}
	if cert.SIDExtension.State == SIDValid {
		buf = append(buf, "X509:<I>"...)
		buf = append(buf, cert.Issuer...)
		buf = append(buf, "<SID>"...)
		buf = append(buf, cert.SIDExtension.Text...)
		add(X509IssuerSID, pick(nameLabels, labelsIssuerSID, labelsIssuerSIDName))
	}
	all := string(buf)
	start := 0
	for i, end := range ends {
		out[i].Value = all[start:end]
		start = end
	}
	return out
}

// Label lists shared by every certificate's candidates; len == cap, so an
// append by a caller copies instead of writing into them.
var (
	labelsNone          []Label
	labelsName          = []Label{LabelNameRenderingUnconfirmed}
	labelsSignByte      = []Label{LabelSerialSignByte}
	labelsSignByteName  = []Label{LabelSerialSignByte, LabelNameRenderingUnconfirmed}
	labelsX509N         = []Label{LabelX509NUnconfirmed}
	labelsX509NName     = []Label{LabelX509NUnconfirmed, LabelNameRenderingUnconfirmed}
	labelsIssuerSID     = []Label{LabelIssuerSIDUnconfirmed}
	labelsIssuerSIDName = []Label{LabelIssuerSIDUnconfirmed, LabelNameRenderingUnconfirmed}
	labelsPublicKey     = [...][]Label{{LabelSHA1Thumbprint}, {LabelSHA1SPKI}, {LabelSHA1SubjectPublicKey}}
)

// pick returns plain when the name labels are empty, withName otherwise.
func pick(nameLabels, plain, withName []Label) []Label {
	if len(nameLabels) == 0 {
		return plain
	}
	return withName
}

const upperHexDigits = "0123456789ABCDEF"

func appendUpperHex(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, upperHexDigits[c>>4], upperHexDigits[c&0x0F])
	}
	return dst
}

// appendReversedSerial appends the <SR> form (see ReversedSerial).
func appendReversedSerial(dst, raw []byte) []byte {
	for i := len(raw) - 1; i >= 0; i-- {
		dst = append(dst, upperHexDigits[raw[i]>>4], upperHexDigits[raw[i]&0x0F])
	}
	return dst
}
