package mapping

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"time"
)

// MaxCertificateSize bounds the DER size ParseCertificate accepts.
const MaxCertificateSize = 1 << 20

// NTAuthState says whether a certificate's issuing CA is in the forest's
// NTAuth store. The certificate alone cannot tell; the caller sets it.
type NTAuthState int

const (
	// NTAuthUnknown: not evaluated; verdicts that depend on it are labelled.
	NTAuthUnknown NTAuthState = iota
	// NTAuthYes: the issuing CA is in NTAuth.
	NTAuthYes
	// NTAuthNo: the issuing CA is not in NTAuth.
	NTAuthNo
)

// PublicKeyHashes holds the three candidate inputs of <SHA1-PUKEY>
// (reference 3.5, Q1); which one the KDC hashes is unconfirmed.
type PublicKeyHashes struct {
	Thumbprint       [20]byte // SHA-1 of the whole certificate
	SPKI             [20]byte // SHA-1 of the DER SubjectPublicKeyInfo
	SubjectPublicKey [20]byte // SHA-1 of the subjectPublicKey BIT STRING contents
}

// Certificate is the view of an X.509 certificate that strong mapping needs.
// It is read from the raw DER, so it keeps what crypto/x509 would lose or
// reject (serial sign bytes, string types, duplicate extensions).
//
// ParseCertificate renders the altSecurityIdentities candidates once; treat
// the parsed fields as read-only. Only IssuerThumbprint and NTAuth, which the
// certificate cannot tell, are meant to be set by the caller.
type Certificate struct {
	// Raw is the complete DER certificate.
	Raw []byte
	// RawIssuer and RawSubject are the DER names as encoded.
	RawIssuer, RawSubject []byte
	// Issuer and Subject are rendered as the KDC renders them (reference
	// 3.3); IssuerCertain and SubjectCertain are false when the rendering
	// depends on unconfirmed behaviour (Q10).
	Issuer, Subject               string
	IssuerCertain, SubjectCertain bool
	// RawSerial holds the content octets of the serial INTEGER exactly as
	// encoded, including a leading 00 sign byte.
	RawSerial []byte
	// NotBefore and NotAfter are the validity bounds in UTC.
	NotBefore, NotAfter time.Time
	// SubjectKeyID is the keyIdentifier of the SKI extension, nil if absent.
	SubjectKeyID []byte
	// KeyHashes are the SHA-1 candidates for <SHA1-PUKEY>.
	KeyHashes PublicKeyHashes
	// UPNs, DNSNames, RFC822Names and URIs come from the first SAN extension,
	// in order, with exact case and duplicates.
	UPNs, DNSNames, RFC822Names, URIs []string
	// PolicyOIDs lists the certificatePolicies identifiers (dotted).
	PolicyOIDs []string
	// SIDExtension is the state of the first SID security extension.
	SIDExtension SIDSource
	// SANURL is the state of the SAN URL SID source.
	SANURL SIDSource
	// DuplicateSIDExtension is true when the SID extension appears more than
	// once. The KDC is believed to use the first copy (unconfirmed).
	DuplicateSIDExtension bool
	// IssuerThumbprint is the SHA-1 thumbprint of the issuing CA certificate,
	// used by the name-based strong mapping policy. The caller sets it.
	IssuerThumbprint []byte
	// NTAuth says whether the issuing CA is in NTAuth. The caller sets it.
	NTAuth NTAuthState

	// cands caches Candidates(c), rendered by ParseCertificate (or by
	// RenderedCandidates) so that Decide is fast; Decide only reads it, so
	// it is safe for concurrent use.
	cands []Candidate
}

// candidates returns the cached candidates, or renders them for a
// Certificate that was not built by ParseCertificate.
func (c *Certificate) candidates() []Candidate {
	if c.cands != nil {
		return c.cands
	}
	return Candidates(c)
}

// SelfSigned reports whether the issuer and subject names are identical.
func (c *Certificate) SelfSigned() bool { return bytes.Equal(c.RawIssuer, c.RawSubject) }

// ParseCertificate reads one DER certificate. It never panics; errors wrap
// ErrMalformedCertificate.
func ParseCertificate(der []byte) (*Certificate, error) {
	var p Parser
	return p.Parse(der)
}

// A Parser reads certificates as ParseCertificate does and remembers the
// rendering of each issuer name it has seen: an audit reads many
// certificates from few CAs. Its zero value is ready to use. A Parser is not
// safe for concurrent use.
type Parser struct {
	// DeferCandidates leaves the candidates unrendered: Decide renders
	// them when an account has altSecurityIdentities to compare, and
	// RenderedCandidates renders and keeps them. An audit whose accounts
	// mostly have none skips the work.
	DeferCandidates bool

	issuers map[string]renderedName
}

type renderedName struct {
	s       string
	certain bool
}

// maxRememberedIssuers bounds a Parser's memory of issuer names.
const maxRememberedIssuers = 1024

// Parse reads one DER certificate; see ParseCertificate.
func (p *Parser) Parse(der []byte) (*Certificate, error) {
	if len(der) > MaxCertificateSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d-byte limit", ErrMalformedCertificate, len(der), MaxCertificateSize)
	}
	r := derReader(der)
	certSeq, ok := r.read(tagSequence)
	if !ok || !r.empty() {
		return nil, fmt.Errorf("%w: not a single DER SEQUENCE", ErrMalformedCertificate)
	}
	cr := derReader(certSeq)
	tbs, ok := cr.read(tagSequence)
	if !ok {
		return nil, fmt.Errorf("%w: missing TBSCertificate", ErrMalformedCertificate)
	}
	c := &Certificate{Raw: der}
	if err := c.parseTBS(p, tbs); err != nil {
		return nil, err
	}
	c.KeyHashes.Thumbprint = sha1.Sum(der)
	if !p.DeferCandidates {
		c.cands = Candidates(c)
	}
	return c, nil
}

// issuerName renders a raw issuer name, from memory when it was seen.
func (p *Parser) issuerName(raw []byte) (string, bool, error) {
	if n, ok := p.issuers[string(raw)]; ok {
		return n.s, n.certain, nil
	}
	s, certain, err := RenderName(raw)
	if err != nil {
		return "", false, err
	}
	if p.issuers == nil {
		p.issuers = map[string]renderedName{}
	}
	if len(p.issuers) < maxRememberedIssuers {
		p.issuers[string(raw)] = renderedName{s, certain}
	}
	return s, certain, nil
}

// X509Error returns the error crypto/x509 returns for this certificate, if
// any (for example duplicate extensions): the view is complete either way. It
// parses the certificate again, which costs as much as ParseCertificate, so an
// audit asks it only of the certificates it reports on.
func (c *Certificate) X509Error() error {
	_, err := x509.ParseCertificate(c.Raw)
	return err
}

func (c *Certificate) parseTBS(p *Parser, tbs []byte) error {
	t := derReader(tbs)
	if tag, ok := t.peek(); ok && tag == tagCtx0Cons {
		t.next()
	}
	serial, ok := t.read(tagInteger)
	if !ok || len(serial) == 0 {
		return fmt.Errorf("%w: bad serial number", ErrMalformedCertificate)
	}
	c.RawSerial = serial
	if _, ok := t.read(tagSequence); !ok {
		return fmt.Errorf("%w: bad signature algorithm", ErrMalformedCertificate)
	}
	var err error
	if c.RawIssuer, err = readFull(&t, tagSequence, "issuer"); err != nil {
		return err
	}
	validity, ok := t.read(tagSequence)
	if !ok {
		return fmt.Errorf("%w: bad validity", ErrMalformedCertificate)
	}
	if c.NotBefore, c.NotAfter, err = parseValidity(validity); err != nil {
		return err
	}
	if c.RawSubject, err = readFull(&t, tagSequence, "subject"); err != nil {
		return err
	}
	spki, err := readFull(&t, tagSequence, "subjectPublicKeyInfo")
	if err != nil {
		return err
	}
	c.KeyHashes.SPKI = sha1.Sum(spki)
	sr := derReader(spki)
	inner, _ := sr.read(tagSequence)
	ir := derReader(inner)
	ir.read(tagSequence)
	bits, ok := ir.read(tagBitString)
	if !ok || len(bits) == 0 {
		return fmt.Errorf("%w: bad subjectPublicKey", ErrMalformedCertificate)
	}
	c.KeyHashes.SubjectPublicKey = sha1.Sum(bits[1:])
	var nameOK bool
	if c.Issuer, c.IssuerCertain, err = p.issuerName(c.RawIssuer); err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	if c.Subject, nameOK, err = RenderName(c.RawSubject); err != nil {
		return fmt.Errorf("subject: %w", err)
	}
	c.SubjectCertain = nameOK
	for !t.empty() {
		tag, contents, _, ok := t.next()
		if !ok {
			return fmt.Errorf("%w: truncated TBSCertificate", ErrMalformedCertificate)
		}
		if tag == tagCtx3Cons {
			if err := c.parseExtensions(contents); err != nil {
				return err
			}
		}
	}
	// Always evaluated for the report; Decide consults it only when the SID
	// extension is absent, as the KDC does.
	c.SANURL = sanURLSource(c.URIs)
	return nil
}

func readFull(r *derReader, want byte, what string) ([]byte, error) {
	tag, _, full, ok := r.next()
	if !ok || tag != want {
		return nil, fmt.Errorf("%w: bad %s", ErrMalformedCertificate, what)
	}
	return full, nil
}

func parseValidity(v []byte) (notBefore, notAfter time.Time, err error) {
	r := derReader(v)
	for i, dst := range []*time.Time{&notBefore, &notAfter} {
		tag, contents, full, ok := r.next()
		if !ok || (tag != tagUTCTime && tag != tagGenTime) {
			return notBefore, notAfter, fmt.Errorf("%w: bad validity time %d", ErrMalformedCertificate, i+1)
		}
		if t, ok := parseZuluTime(tag, contents); ok {
			*dst = t
			continue
		}
		// Anything but the plain Z forms goes through encoding/asn1, which
		// accepts what crypto/x509 accepts and says what is wrong.
		if _, err := asn1.Unmarshal(full, dst); err != nil {
			return notBefore, notAfter, fmt.Errorf("%w: validity time %d: %v", ErrMalformedCertificate, i+1, err)
		}
		*dst = dst.UTC()
	}
	return notBefore, notAfter, nil
}

// parseZuluTime reads the forms RFC 5280 prescribes, YYMMDDHHMMSSZ
// (UTCTime, years 1950-2049) and YYYYMMDDHHMMSSZ (GeneralizedTime), as
// encoding/asn1 would. ok is false for any other form or an invalid date.
func parseZuluTime(tag byte, b []byte) (time.Time, bool) {
	var year int
	switch {
	case tag == tagUTCTime && len(b) == 13:
		yy, ok := digits2(b[0:2])
		if !ok {
			return time.Time{}, false
		}
		year = 1900 + yy
		if yy < 50 {
			year = 2000 + yy
		}
		b = b[2:]
	case tag == tagGenTime && len(b) == 15:
		hi, ok1 := digits2(b[0:2])
		lo, ok2 := digits2(b[2:4])
		if !ok1 || !ok2 {
			return time.Time{}, false
		}
		year = hi*100 + lo
		b = b[4:]
	default:
		return time.Time{}, false
	}
	if b[10] != 'Z' {
		return time.Time{}, false
	}
	var f [5]int
	for i := range f {
		n, ok := digits2(b[2*i : 2*i+2])
		if !ok {
			return time.Time{}, false
		}
		f[i] = n
	}
	month, day, hour, minute, sec := f[0], f[1], f[2], f[3], f[4]
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, false // 31 April and the like
	}
	return t, true
}

func digits2(b []byte) (int, bool) {
	if b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' {
		return 0, false
	}
	return int(b[0]-'0')*10 + int(b[1]-'0'), true
}

// DER contents of the extension and otherName OIDs the parser looks for.
var (
	oidDERSIDExtension = encodeOID("1.3.6.1.4.1.311.25.2")
	oidDERSAN          = encodeOID("2.5.29.17")
	oidDERSKI          = encodeOID("2.5.29.14")
	oidDERPolicies     = encodeOID("2.5.29.32")
	oidDERUPN          = encodeOID("1.3.6.1.4.1.311.20.2.3")
)

func (c *Certificate) parseExtensions(contents []byte) error {
	outer := derReader(contents)
	list, ok := outer.read(tagSequence)
	if !ok {
		return fmt.Errorf("%w: bad extensions", ErrMalformedCertificate)
	}
	// Only the first of each extension counts; a later copy of the SID
	// extension is recorded as a duplicate.
	var seenSID, seenSAN, seenSKI, seenPolicies bool
	exts := derReader(list)
	for !exts.empty() {
		ext, ok := exts.read(tagSequence)
		if !ok {
			return fmt.Errorf("%w: bad extension", ErrMalformedCertificate)
		}
		er := derReader(ext)
		oid, ok := er.read(tagOID)
		if !ok {
			return fmt.Errorf("%w: extension without OID", ErrMalformedCertificate)
		}
		if tag, ok := er.peek(); ok && tag == tagBoolean {
			er.next()
		}
		value, ok := er.read(tagOctetString)
		if !ok {
			return fmt.Errorf("%w: extension without value", ErrMalformedCertificate)
		}
		switch {
		case bytes.Equal(oid, oidDERSIDExtension):
			if !seenSID {
				c.SIDExtension = parseSIDExtensionValue(value)
			} else {
				c.DuplicateSIDExtension = true
			}
			seenSID = true
		case bytes.Equal(oid, oidDERSAN):
			if !seenSAN {
				if err := c.parseSAN(value); err != nil {
					return err
				}
			}
			seenSAN = true
		case bytes.Equal(oid, oidDERSKI):
			if !seenSKI {
				vr := derReader(value)
				ski, ok := vr.read(tagOctetString)
				if !ok || !vr.empty() {
					return fmt.Errorf("%w: bad SubjectKeyIdentifier", ErrMalformedCertificate)
				}
				if len(ski) > 0 {
					c.SubjectKeyID = ski
				}
			}
			seenSKI = true
		case bytes.Equal(oid, oidDERPolicies):
			if !seenPolicies {
				c.PolicyOIDs = parsePolicies(value)
			}
			seenPolicies = true
		}
	}
	return nil
}

// parseSAN reads GeneralNames: otherName UPN [0], rfc822Name [1],
// dNSName [2] and uniformResourceIdentifier [6].
func (c *Certificate) parseSAN(v []byte) error {
	r := derReader(v)
	seq, ok := r.read(tagSequence)
	if !ok {
		return fmt.Errorf("%w: bad subjectAltName", ErrMalformedCertificate)
	}
	names := derReader(seq)
	for !names.empty() {
		tag, contents, _, ok := names.next()
		if !ok {
			return fmt.Errorf("%w: truncated subjectAltName", ErrMalformedCertificate)
		}
		switch tag {
		case 0xA0:
			on := derReader(contents)
			oid, _ := on.read(tagOID)
			if !bytes.Equal(oid, oidDERUPN) {
				continue
			}
			// A UPN otherName that is not [0] EXPLICIT UTF8String yields no
			// UPN (no implicit mapping); the rest of the SAN is still read.
			ex, ok := on.read(tagCtx0Cons)
			exr := derReader(ex)
			if upn, ok2 := exr.read(tagUTF8String); ok && ok2 {
				c.UPNs = append(c.UPNs, string(upn))
			}
		case 0x81:
			c.RFC822Names = append(c.RFC822Names, string(contents))
		case 0x82:
			c.DNSNames = append(c.DNSNames, string(contents))
		case 0x86:
			c.URIs = append(c.URIs, string(contents))
		}
	}
	return nil
}

func parsePolicies(v []byte) []string {
	var out []string
	r := derReader(v)
	seq, _ := r.read(tagSequence)
	pr := derReader(seq)
	for !pr.empty() {
		info, ok := pr.read(tagSequence)
		if !ok {
			return out
		}
		ir := derReader(info)
		oid, ok := ir.read(tagOID)
		if s := oidString(oid); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ParseCertificates reads every certificate in data: PEM (all CERTIFICATE
// blocks, other blocks skipped) or one or more concatenated DER certificates.
func ParseCertificates(data []byte) ([]*Certificate, error) {
	var out []*Certificate
	if bytes.Contains(data, []byte("-----BEGIN")) {
		rest := data
		for n := 1; ; n++ {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			c, err := ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d: %w", n, err)
			}
			out = append(out, c)
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: no CERTIFICATE PEM block", ErrMalformedCertificate)
		}
		return out, nil
	}
	r := derReader(data)
	for n := 1; !r.empty(); n++ {
		tag, _, full, ok := r.next()
		if !ok || tag != tagSequence {
			return nil, fmt.Errorf("%w: DER certificate %d is truncated or not a SEQUENCE", ErrMalformedCertificate, n)
		}
		c, err := ParseCertificate(full)
		if err != nil {
			return nil, fmt.Errorf("DER certificate %d: %w", n, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrMalformedCertificate)
	}
	return out, nil
}
