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
	// The values are written into one buffer, on the stack while they fit,
	// and sliced from one string: an audit renders the candidates of every
	// certificate.
	var stack [1024]byte
	var w candidateList
	w.out = make([]Candidate, 0, 9+len(cert.RFC822Names))
	buf := walkCandidates(stack[:0], cert, nil, &w)
	return w.finish(string(buf))
}

// CandidateBuffer is the storage EachCandidate writes into. Its zero value
// is ready to use; keep one for many certificates and nothing is allocated
// once it has grown.
type CandidateBuffer struct {
	buf  []byte
	list candidateList
}

// EachCandidate calls fn with the value of each candidate (see Candidates)
// whose type want accepts (every type when want is nil), in the order of
// Candidates. The values are written into b: value is valid only during
// the call. An audit compares the candidates of every certificate with an
// index and keeps none of them.
func (c *Certificate) EachCandidate(b *CandidateBuffer, want func(MappingType) bool, fn func(t MappingType, value []byte)) {
	b.list.out, b.list.more = b.list.out[:0], b.list.more[:0]
	b.buf = walkCandidates(b.buf[:0], c, want, &b.list)
	start := 0
	for i := range b.list.out {
		end := b.list.end(i)
		fn(b.list.out[i].Type, b.buf[start:end])
		start = end
	}
}

// walkCandidates writes the candidates of cert that want accepts into buf,
// one after the other, recording each in sink.
func walkCandidates(buf []byte, cert *Certificate, want func(MappingType) bool, sink *candidateList) []byte {
	nameLabels := labelsNone
	if !cert.IssuerCertain || !cert.SubjectCertain {
		nameLabels = labelsName
	}
	wants := func(t MappingType) bool { return want == nil || want(t) }
	if wants(X509IssuerSerialNumber) {
		buf = appendStrings(buf, "X509:<I>", cert.Issuer, "<SR>")
		buf = appendReversedSerial(buf, cert.RawSerial)
		buf = sink.add(buf, X509IssuerSerialNumber, nameLabels)
		if len(cert.RawSerial) > 1 && cert.RawSerial[0] == 0 {
			buf = appendStrings(buf, "X509:<I>", cert.Issuer, "<SR>")
			buf = appendReversedSerial(buf, cert.RawSerial[1:])
			buf = sink.add(buf, X509IssuerSerialNumber, pick(nameLabels, labelsSignByte, labelsSignByteName))
		}
	}
	if len(cert.SubjectKeyID) > 0 && wants(X509SKI) {
		buf = appendUpperHex(append(buf, "X509:<SKI>"...), cert.SubjectKeyID)
		buf = sink.add(buf, X509SKI, nil)
	}
	if wants(X509SHA1PublicKey) {
		for i, sum := range [...]*[20]byte{&cert.KeyHashes.Thumbprint, &cert.KeyHashes.SPKI, &cert.KeyHashes.SubjectPublicKey} {
			buf = appendUpperHex(append(buf, "X509:<SHA1-PUKEY>"...), sum[:])
			buf = sink.add(buf, X509SHA1PublicKey, labelsPublicKey[i])
		}
	}
	if wants(X509IssuerSubject) {
		buf = appendStrings(buf, "X509:<I>", cert.Issuer, "<S>")
		buf = append(buf, cert.Subject...)
		buf = sink.add(buf, X509IssuerSubject, nameLabels)
	}
	if wants(X509SubjectOnly) {
		buf = appendStrings(buf, "X509:<S>", cert.Subject, "")
		buf = sink.add(buf, X509SubjectOnly, nameLabels)
	}
	if wants(X509NSubjectOnly) {
		buf = appendStrings(buf, "X509N:<S>", cert.Subject, "")
		buf = sink.add(buf, X509NSubjectOnly, pick(nameLabels, labelsX509N, labelsX509NName))
	}
	if wants(X509RFC822) {
		for _, e := range cert.RFC822Names {
			buf = appendStrings(buf, "X509:<RFC822>", e, "")
			buf = sink.add(buf, X509RFC822, nil)
		}
	}
	if cert.SIDExtension.State == SIDValid && wants(X509IssuerSID) {
		buf = appendStrings(buf, "X509:<I>", cert.Issuer, "<SID>")
		buf = append(buf, cert.SIDExtension.Text...)
		buf = sink.add(buf, X509IssuerSID, pick(nameLabels, labelsIssuerSID, labelsIssuerSIDName))
	}
	return buf
}

// candidateList records where each candidate's value ends in the buffer.
type candidateList struct {
	out  []Candidate
	ends [16]int
	more []int // ends beyond the sixteenth
}

func appendStrings(buf []byte, a, b, c string) []byte {
	return append(append(append(buf, a...), b...), c...)
}

// add records a candidate of type t whose value ends where buf ends.
func (w *candidateList) add(buf []byte, t MappingType, labels []Label) []byte {
	if n := len(w.out); n < len(w.ends) {
		w.ends[n] = len(buf)
	} else {
		w.more = append(w.more, len(buf))
	}
	w.out = append(w.out, Candidate{Type: t, Labels: labels})
	return buf
}

// end returns where the i-th candidate's value ends.
func (w *candidateList) end(i int) int {
	if i < len(w.ends) {
		return w.ends[i]
	}
	return w.more[i-len(w.ends)]
}

func (w *candidateList) finish(all string) []Candidate {
	start := 0
	for i := range w.out {
		end := w.end(i)
		w.out[i].Value = all[start:end]
		start = end
	}
	return w.out
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
