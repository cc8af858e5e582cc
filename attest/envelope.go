package attest

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/smallstep/pkcs7"
)

// Size limits applied before any parsing, so hostile input costs bounded work.
const (
	// MaxResponseSize bounds the IMDS response JSON (real ones are about 4 KB).
	MaxResponseSize = 64 << 10
	// MaxDERSize bounds the decoded PKCS#7 (real ones are about 3 KB).
	MaxDERSize = 48 << 10
	// MaxCertificates bounds the certificates embedded in the PKCS#7.
	MaxCertificates = 10
	// MaxHints bounds the client-supplied "intermediates" side field.
	MaxHints = 10
	// MaxHintSize bounds each client-supplied intermediate (DER).
	MaxHintSize = 16 << 10
)

// Object identifiers that appear in attested documents.
var (
	// OIDSHA256 is id-sha256, the standard SHA-256 digest algorithm.
	OIDSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	// OIDSHA256WithRSA is sha256WithRSAEncryption. Azure writes it where a
	// digest OID belongs (SignedData.digestAlgorithms and
	// SignerInfo.digestAlgorithm); see AzureDigestOIDQuirk in SignOptions.
	OIDSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	// OIDRSAEncryption is rsaEncryption, Azure's digestEncryptionAlgorithm.
	OIDRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}

	oidData            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidSHA384          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidAttrContentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
)

// An Envelope is a parsed, not yet verified, attested document.
type Envelope struct {
	// Content is the attached, signed JSON. It is not authentic until
	// Verify has succeeded.
	Content []byte
	// Certificates are the certificates embedded in the PKCS#7, in order.
	// Azure embeds only the signer leaf.
	Certificates []*x509.Certificate
	// Signer is the certificate named by the single SignerInfo's
	// issuerAndSerialNumber, or nil if there is not exactly one SignerInfo
	// or its certificate is not embedded. It need not be Certificates[0].
	Signer *x509.Certificate
	// SignerInfos is the number of SignerInfo structures.
	SignerInfos int
	// DigestAlgorithm is the SignerInfo's digestAlgorithm OID: id-sha256, or
	// OIDSHA256WithRSA in Azure's documents.
	DigestAlgorithm asn1.ObjectIdentifier
	// SignatureAlgorithm is the SignerInfo's digestEncryptionAlgorithm OID.
	SignatureAlgorithm asn1.ObjectIdentifier
	// SignedAttributes reports whether the SignerInfo has signed
	// (authenticated) attributes; Azure's never do.
	SignedAttributes bool
	// Hints are intermediates sent next to the envelope in the optional
	// "intermediates" field (standard base64 DER). They are untrusted and
	// outside the signature; Verify uses them only to build paths.
	Hints []*x509.Certificate
	// DER is the PKCS#7 ContentInfo.
	DER []byte

	p7   *pkcs7.PKCS7
	fast *fastSignature // set instead of p7 by the fast path (fastpath.go)
}

// responseJSON is the IMDS response body plus our optional side field.
type responseJSON struct {
	Encoding      *string  `json:"encoding"`
	Signature     *string  `json:"signature"`
	Intermediates []string `json:"intermediates"`
}

// Parse parses an IMDS attested-document response,
// {"encoding":"pkcs7","signature":"<standard base64 DER>"}, optionally with an
// "intermediates" array of standard-base64 DER certificates. It checks shape
// and sizes only; it does not verify anything. Errors wrap ErrMalformed.
func Parse(data []byte) (*Envelope, error) {
	if len(data) > MaxResponseSize {
		return nil, newErr(ErrMalformed, "parse", fmt.Sprintf("response is %d bytes, more than the %d allowed", len(data), MaxResponseSize), nil)
	}
	if sig, ok := azureShape(data); ok {
		return ParseBase64(sig)
	}
	if err := checkStrictJSON(data); err != nil {
		return nil, newErr(ErrMalformed, "parse", `response is not a strict JSON object like {"encoding":"pkcs7","signature":"..."}`, err)
	}
	var r responseJSON
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, newErr(ErrMalformed, "parse", `response does not match {"encoding":"pkcs7","signature":"..."}`, err)
	}
	if r.Encoding == nil || *r.Encoding != "pkcs7" {
		return nil, newErr(ErrMalformed, "parse", `field "encoding" must be "pkcs7"`, nil)
	}
	if r.Signature == nil {
		return nil, newErr(ErrMalformed, "parse", `field "signature" is missing`, nil)
	}
	if len(r.Intermediates) > MaxHints {
		return nil, newErr(ErrMalformed, "parse", fmt.Sprintf(`field "intermediates" has %d entries, more than the %d allowed`, len(r.Intermediates), MaxHints), nil)
	}
	var hints []*x509.Certificate
	for i, h := range r.Intermediates {
		der, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(der) > MaxHintSize {
			return nil, newErr(ErrMalformed, "parse", fmt.Sprintf(`intermediates[%d] is not standard base64 of at most %d bytes`, i, MaxHintSize), err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, newErr(ErrMalformed, "parse", fmt.Sprintf("intermediates[%d] is not an X.509 certificate", i), err)
		}
		hints = append(hints, c)
	}
	env, err := ParseBase64(*r.Signature)
	if err != nil {
		return nil, err
	}
	env.Hints = hints
	return env, nil
}

// azureShape recognises the body exactly as IMDS writes it,
// {"encoding":"pkcs7","signature":"<base64>"}, and returns the signature without the
// general strict-JSON walk: that shape has no duplicate keys, no escapes and no trailing
// data by construction. Anything else takes the general path.
func azureShape(data []byte) (string, bool) {
	const prefix, suffix = `{"encoding":"pkcs7","signature":"`, `"}`
	if len(data) < len(prefix)+len(suffix) || string(data[:len(prefix)]) != prefix || string(data[len(data)-len(suffix):]) != suffix {
		return "", false
	}
	sig := data[len(prefix) : len(data)-len(suffix)]
	for _, c := range sig {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return "", false
		}
	}
	return string(sig), true
}

// ParseBase64 parses the "signature" value alone: standard base64 (with
// padding) of a DER PKCS#7 ContentInfo. ASCII whitespace, as in wrapped
// base64, is ignored. Errors wrap ErrMalformed.
func ParseBase64(s string) (*Envelope, error) {
	if len(s) > MaxResponseSize {
		return nil, newErr(ErrMalformed, "parse", fmt.Sprintf("signature is %d characters, more than the %d allowed", len(s), MaxResponseSize), nil)
	}
	// The decoder itself skips \r and \n; spaces and tabs (rare) are removed
	// first, so the common unwrapped value is not copied.
	if strings.ContainsAny(s, " \t") {
		s = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t':
				return -1
			}
			return r
		}, s)
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, newErr(ErrMalformed, "parse", "signature is not standard base64", err)
	}
	return ParseDER(der)
}

// ParseDER parses a DER PKCS#7 SignedData ContentInfo with attached
// content. Azure's digest-OID quirk (sha256WithRSAEncryption written where
// id-sha256 belongs) is accepted here; Verify decides which algorithms are
// allowed. Errors wrap ErrMalformed.
func ParseDER(der []byte) (env *Envelope, err error) {
	if len(der) > MaxDERSize {
		return nil, newErr(ErrMalformed, "parse", fmt.Sprintf("PKCS#7 is %d bytes, more than the %d allowed", len(der), MaxDERSize), nil)
	}
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
	}
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, newErr(ErrMalformed, "parse", "not a DER PKCS#7 ContentInfo", err)
	}
	if len(rest) != 0 {
		return nil, newErr(ErrMalformed, "parse", fmt.Sprintf("%d bytes of trailing data after the PKCS#7", len(rest)), nil)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, newErr(ErrMalformed, "parse", fmt.Sprintf("content type is %s, want signedData (1.2.840.113549.1.7.2)", ci.ContentType), nil)
	}
	if env, ok := fastParse(ci.Content.Bytes, der); ok {
		return env, nil
	}
	// The PKCS#7 library is third-party code fed hostile input; a panic in
	// it must become an error, not a crashed server.
	defer func() {
		if r := recover(); r != nil {
			env, err = nil, newErr(ErrMalformed, "parse", fmt.Sprintf("PKCS#7 parser panicked: %v", r), nil)
		}
	}()
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, newErr(ErrMalformed, "parse", "PKCS#7 SignedData does not parse", err)
	}
	if len(p7.Content) == 0 {
		return nil, newErr(ErrMalformed, "parse", "PKCS#7 has no attached content; Azure documents always attach the JSON", nil)
	}
	if len(p7.Certificates) > MaxCertificates {
		return nil, newErr(ErrMalformed, "parse", fmt.Sprintf("PKCS#7 embeds %d certificates, more than the %d allowed", len(p7.Certificates), MaxCertificates), nil)
	}
	env = &Envelope{
		Content:      p7.Content,
		Certificates: p7.Certificates,
		Signer:       p7.GetOnlySigner(),
		SignerInfos:  len(p7.Signers),
		DER:          bytes.Clone(der),
		p7:           p7,
	}
	if len(p7.Signers) == 1 {
		si := p7.Signers[0]
		env.DigestAlgorithm = si.DigestAlgorithm.Algorithm
		env.SignatureAlgorithm = si.DigestEncryptionAlgorithm.Algorithm
		env.SignedAttributes = len(si.AuthenticatedAttributes) > 0
	}
	return env, nil
}
