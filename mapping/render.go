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
	var out []Candidate
	var nameLabels []Label
	if !cert.IssuerCertain || !cert.SubjectCertain {
		nameLabels = []Label{LabelNameRenderingUnconfirmed}
	}
	sr := ReversedSerial(cert.RawSerial)
	out = append(out, Candidate{X509IssuerSerialNumber, "X509:<I>" + cert.Issuer + "<SR>" + sr, nameLabels})
	if len(cert.RawSerial) > 1 && cert.RawSerial[0] == 0 {
		out = append(out, Candidate{X509IssuerSerialNumber, "X509:<I>" + cert.Issuer + "<SR>" + sr[:len(sr)-2],
			append([]Label{LabelSerialSignByte}, nameLabels...)})
	}
	if len(cert.SubjectKeyID) > 0 {
		out = append(out, Candidate{X509SKI, "X509:<SKI>" + strings.ToUpper(hex.EncodeToString(cert.SubjectKeyID)), nil})
	}
	for _, h := range []struct {
		sum   [20]byte
		label Label
	}{
		{cert.KeyHashes.Thumbprint, LabelSHA1Thumbprint},
		{cert.KeyHashes.SPKI, LabelSHA1SPKI},
		{cert.KeyHashes.SubjectPublicKey, LabelSHA1SubjectPublicKey},
	} {
		out = append(out, Candidate{X509SHA1PublicKey, "X509:<SHA1-PUKEY>" + strings.ToUpper(hex.EncodeToString(h.sum[:])), []Label{h.label}})
	}
	out = append(out,
		Candidate{X509IssuerSubject, "X509:<I>" + cert.Issuer + "<S>" + cert.Subject, nameLabels},
		Candidate{X509SubjectOnly, "X509:<S>" + cert.Subject, nameLabels},
		Candidate{X509NSubjectOnly, "X509N:<S>" + cert.Subject, append([]Label{LabelX509NUnconfirmed}, nameLabels...)},
	)
	for _, e := range cert.RFC822Names {
		out = append(out, Candidate{X509RFC822, "X509:<RFC822>" + e, nil})
	}
	if cert.SIDExtension.State == SIDValid {
		out = append(out, Candidate{X509IssuerSID, "X509:<I>" + cert.Issuer + "<SID>" + cert.SIDExtension.Text,
			append([]Label{LabelIssuerSIDUnconfirmed}, nameLabels...)})
	}
	return out
}
