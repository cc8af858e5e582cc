package attest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// DefaultSkew is the clock skew tolerated on the document's timestamps when
// VerifyOptions.Skew is zero.
const DefaultSkew = 5 * time.Minute

// VerifyOptions is the verification policy. Roots is the only required field.
type VerifyOptions struct {
	// Roots is the explicit set of trust anchors. It is required: a nil pool
	// is an ErrPolicy error, never a silent fall back to the system pool,
	// whose contents differ between hosts and may include TLS-inspection
	// roots able to mint a metadata.azure.com certificate.
	Roots *x509.CertPool

	// Intermediates are consulted in order for untrusted path-building
	// hints, after the certificates embedded in the document and the
	// envelope's "intermediates" side field. FallbackSource values (such as
	// an AIAFetcher) are consulted only if the path cannot be built without
	// them.
	Intermediates []IntermediateSource

	// At, when non-zero, is the moment to verify as of (an audit of an old
	// document): both the chain and the document's timestamps are checked
	// at At. It overrides CurrentTime.
	At time.Time
	// CurrentTime returns the verification time when At is zero; nil means
	// time.Now.
	CurrentTime func() time.Time

	// Nonce, when non-empty, must equal the document's nonce exactly. Set
	// it: without a verifier-chosen nonce nothing proves the document is
	// fresh.
	Nonce string
	// Skew is the clock skew tolerated on timeStamp; zero means DefaultSkew
	// and a negative value means none.
	Skew time.Duration
	// MaxAge, when positive, rejects documents created more than MaxAge
	// (plus Skew) before the verification time. Off by default, because
	// real documents show createdOn six hours before their default nonce.
	MaxAge time.Duration

	// SignerNames are the allowed base domains of the signer's DNS SANs;
	// nil means DefaultSignerNames. A name matches a base domain when it
	// equals it or is a subdomain of it.
	SignerNames []string
	// AllowCNFallback lets the subject CN stand in for the SAN when the
	// signer has no SAN extension at all (legacy certificates and the IMDS
	// documentation's test vector).
	AllowCNFallback bool
	// AllowClassic accepts documents without a subscriptionId, as classic
	// (non-ARM) VMs produce. vmId is always required.
	AllowClassic bool
	// ChainCache, when set, keeps the chains built for each signer, so documents from a
	// signer already seen skip the chain's signature checks. Nil: every document builds
	// its chain.
	ChainCache *ChainCache
}

// A Result is a verified document.
type Result struct {
	// Document is the decoded signed content.
	Document *Document
	// Content is the signed JSON exactly as signed.
	Content []byte
	// Signer is the certificate that signed the document.
	Signer *x509.Certificate
	// Chain is the path that was built, Signer first and a root last.
	Chain []*x509.Certificate
	// MatchedName is the signer DNS name that matched SignerNames.
	MatchedName string
	// Warnings are conditions that did not fail verification but call for
	// action, such as an intermediate that had to be fetched over AIA.
	Warnings []string
}

// Verify parses data as an IMDS response ({"encoding":"pkcs7",...}) and
// verifies it with VerifyEnvelope.
func Verify(ctx context.Context, data []byte, opts VerifyOptions) (*Result, error) {
	env, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return VerifyEnvelope(ctx, env, opts)
}

// VerifyEnvelope verifies a parsed document. It checks, in this order and
// touching the network (through a FallbackSource) only at the end: the
// policy; exactly one SignerInfo whose certificate is embedded; allowed
// algorithms and key sizes; the signature over the content with that
// signer's certificate; the signer's names, CA flag, key usage and extended
// key usage; the claims (vmId, subscriptionId, nonce, timestamps); and a
// chain from the signer to opts.Roots. Every check runs on the certificate
// the SignerInfo names, never on Certificates[0]. Errors are *VerifyError
// values wrapping one of the Err sentinels.
func VerifyEnvelope(ctx context.Context, env *Envelope, opts VerifyOptions) (*Result, error) {
	if opts.Roots == nil {
		return nil, newErr(ErrPolicy, "policy", "VerifyOptions.Roots is nil; pass an explicit root pool (the system pool is never used)", nil)
	}
	names := opts.SignerNames
	if names == nil {
		names = DefaultSignerNames
	}
	if len(names) == 0 {
		return nil, newErr(ErrPolicy, "policy", "VerifyOptions.SignerNames is empty; list at least one base domain such as metadata.azure.com", nil)
	}
	if env == nil || env.p7 == nil && env.fast == nil {
		return nil, newErr(ErrMalformed, "parse", "envelope was not produced by Parse, ParseBase64 or ParseDER", nil)
	}
	now := opts.At
	if now.IsZero() {
		if opts.CurrentTime != nil {
			now = opts.CurrentTime()
		} else {
			now = time.Now()
		}
	}

	if env.SignerInfos != 1 {
		return nil, newErr(ErrMalformed, "signer", fmt.Sprintf("PKCS#7 has %d SignerInfos; exactly 1 is required", env.SignerInfos), nil)
	}
	signer := env.Signer
	if signer == nil {
		return nil, newErr(ErrMalformed, "signer", "the certificate named by the SignerInfo (issuerAndSerialNumber) is not embedded in the PKCS#7", nil)
	}
	if err := checkAlgorithms(env); err != nil {
		return nil, err
	}
	if err := env.verifySignature(); err != nil {
		return nil, newErr(ErrBadSignature, "signature", "the content's signature does not verify with the signer certificate "+describe(signer), err)
	}
	if env.SignedAttributes {
		// smallstep/pkcs7 checks messageDigest but not contentType.
		var ct asn1.ObjectIdentifier
		if err := env.p7.UnmarshalSignedAttribute(oidAttrContentType, &ct); err != nil || !ct.Equal(oidData) {
			return nil, newErr(ErrBadSignature, "signature", "signed contentType attribute is missing or not id-data", err)
		}
	}
	matched, ok := nameAllowed(signer, names, opts.AllowCNFallback)
	if !ok {
		return nil, newErr(ErrNameMismatch, "name", fmt.Sprintf("signer %s has DNS names %q, none equal to or under %q; if this is a sovereign cloud, add its domain to SignerNames", describe(signer), signer.DNSNames, names), nil)
	}
	if err := checkSignerProfile(signer); err != nil {
		return nil, err
	}
	doc, err := checkClaims(env.Content, opts, now)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, newErr(ErrUntrustedChain, "chain", "verification cancelled before the chain was built", err)
	}
	chain, warnings, err := buildChain(ctx, env, opts, now)
	if err != nil {
		return nil, err
	}
	return &Result{
		Document:    doc,
		Content:     env.Content,
		Signer:      signer,
		Chain:       chain,
		MatchedName: matched,
		Warnings:    warnings,
	}, nil
}

// checkAlgorithms allows SHA-256/384/512 digests (including Azure's
// sha256WithRSAEncryption-as-digest quirk) with RSA of at least 2048 bits or
// ECDSA P-256/P-384. It exists because x509.Certificate.CheckSignature, which
// the PKCS#7 library uses for the content, still accepts SHA-1.
func checkAlgorithms(env *Envelope) error {
	d, s := env.DigestAlgorithm, env.SignatureAlgorithm
	digestOK := d.Equal(OIDSHA256) || d.Equal(oidSHA384) || d.Equal(oidSHA512)
	quirk := d.Equal(OIDSHA256WithRSA)
	bad := func(detail string) error {
		return newErr(ErrBadSignature, "algorithm", detail+"; only SHA-256/384/512 with RSA ≥ 2048 bits or ECDSA P-256/P-384 are accepted", nil)
	}
	if !digestOK && !quirk {
		return bad(fmt.Sprintf("digest algorithm %s is not allowed", d))
	}
	switch k := env.Signer.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return bad(fmt.Sprintf("signer RSA key has %d bits", k.N.BitLen()))
		}
		if !(s.Equal(OIDRSAEncryption) || s.Equal(OIDSHA256WithRSA) || s.Equal(oidSHA384WithRSA) || s.Equal(oidSHA512WithRSA)) {
			return bad(fmt.Sprintf("signature algorithm %s does not fit an RSA key", s))
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return bad("signer ECDSA curve " + k.Curve.Params().Name)
		}
		if quirk || !(s.Equal(oidECDSAWithSHA256) || s.Equal(oidECDSAWithSHA384) ||
			s.Equal(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}) || s.Equal(asn1.ObjectIdentifier{1, 3, 132, 0, 34})) {
			return bad(fmt.Sprintf("signature algorithm %s with digest %s does not fit an ECDSA key", s, d))
		}
	default:
		return bad(fmt.Sprintf("signer key type %T", k))
	}
	return nil
}

// checkSignerProfile applies the leaf checks that x509.Verify skips: Go
// does not check a leaf's key usage, and the chain is built with
// ExtKeyUsageAny because the 2026 Sub CAs allow serverAuth only.
func checkSignerProfile(c *x509.Certificate) error {
	if c.IsCA {
		return newErr(ErrUntrustedChain, "signer", "signer "+describe(c)+" is a CA certificate; a document must be signed by an end-entity certificate", nil)
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return newErr(ErrUntrustedChain, "signer", "signer "+describe(c)+" has a key usage extension without digitalSignature", nil)
	}
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return nil // no EKU extension: unrestricted
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny {
			return nil
		}
	}
	return newErr(ErrUntrustedChain, "signer", "signer "+describe(c)+" has no serverAuth, clientAuth or anyExtendedKeyUsage EKU", nil)
}

var uuidRE = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

func checkClaims(content []byte, opts VerifyOptions, now time.Time) (*Document, error) {
	doc, err := ParseDocument(content)
	if err != nil {
		return nil, err
	}
	if !uuidRE.MatchString(doc.VMID) {
		return nil, newErr(ErrMissingClaim, "claims", fmt.Sprintf("vmId %q is missing or not a UUID", doc.VMID), nil)
	}
	if doc.SubscriptionID == "" && !opts.AllowClassic {
		return nil, newErr(ErrMissingClaim, "claims", "subscriptionId is missing; set AllowClassic to accept classic VMs", nil)
	}
	if doc.SubscriptionID != "" && !uuidRE.MatchString(doc.SubscriptionID) {
		return nil, newErr(ErrMissingClaim, "claims", fmt.Sprintf("subscriptionId %q is not a UUID", doc.SubscriptionID), nil)
	}
	if opts.Nonce != "" && subtle.ConstantTimeCompare([]byte(opts.Nonce), []byte(doc.Nonce)) != 1 {
		return nil, newErr(ErrNonceMismatch, "claims", fmt.Sprintf("document nonce %q is not the expected one; IMDS can return a cached document, so fetch it again with the same nonce", doc.Nonce), nil)
	}
	created, expires := doc.TimeStamp.CreatedOn, doc.TimeStamp.ExpiresOn
	if created.IsZero() || expires.IsZero() {
		return nil, newErr(ErrMissingClaim, "claims", "timeStamp.createdOn or timeStamp.expiresOn is missing", nil)
	}
	skew := opts.Skew
	if skew == 0 {
		skew = DefaultSkew
	} else if skew < 0 {
		skew = 0
	}
	at := now.UTC().Format(time.RFC3339)
	switch {
	case created.After(expires):
		return nil, newErr(ErrExpired, "claims", fmt.Sprintf("createdOn %s is after expiresOn %s", created.Format(time.RFC3339), expires.Format(time.RFC3339)), nil)
	case expires.Before(now.Add(-skew)):
		return nil, newErr(ErrExpired, "claims", fmt.Sprintf("document expired at %s (verification time %s, skew %s); fetch a fresh document", expires.Format(time.RFC3339), at, skew), nil)
	case created.After(now.Add(skew)):
		return nil, newErr(ErrExpired, "claims", fmt.Sprintf("document created at %s, after the verification time %s plus skew %s; check the clocks", created.Format(time.RFC3339), at, skew), nil)
	case opts.MaxAge > 0 && now.Sub(created) > opts.MaxAge+skew:
		return nil, newErr(ErrExpired, "claims", fmt.Sprintf("document created at %s is older than MaxAge %s at %s", created.Format(time.RFC3339), opts.MaxAge, at), nil)
	}
	return doc, nil
}

// hintSet collects intermediates without duplicates and remembers where
// each came from, for warnings.
type hintSet struct {
	certs  []*x509.Certificate
	origin map[[32]byte]string
}

func (h *hintSet) add(origin string, certs ...*x509.Certificate) {
	if h.origin == nil {
		h.origin = map[[32]byte]string{}
	}
	for _, c := range certs {
		if c == nil {
			continue
		}
		k := sha256.Sum256(c.Raw)
		if _, dup := h.origin[k]; dup {
			continue
		}
		h.origin[k] = origin
		h.certs = append(h.certs, c)
	}
}

func (h *hintSet) pool() *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range h.certs {
		p.AddCert(c)
	}
	return p
}

func buildChain(ctx context.Context, env *Envelope, opts VerifyOptions, now time.Time) ([]*x509.Certificate, []string, error) {
	signer := env.Signer
	if e, ok := opts.ChainCache.get(signer, opts.Roots, now); ok {
		return e.chain, chainWarnings(e.chain, e.fetchedViaAIA, now), nil
	}
	var hints hintSet
	for _, c := range env.Certificates {
		if c != signer {
			hints.add("document", c)
		}
	}
	hints.add("client", env.Hints...)
	var sourceErrs []string
	var fallbacks []IntermediateSource
	for i, src := range opts.Intermediates {
		if f, ok := src.(FallbackSource); ok && f.FallbackOnly() {
			fallbacks = append(fallbacks, src)
			continue
		}
		certs, err := src.Intermediates(ctx, ChainRequest{Signer: signer, Roots: opts.Roots, Known: hints.certs, At: now})
		if err != nil {
			sourceErrs = append(sourceErrs, fmt.Sprintf("source %d: %v", i, err))
		}
		hints.add(fmt.Sprintf("source %d", i), certs...)
	}
	vo := x509.VerifyOptions{
		Roots:       opts.Roots,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	vo.Intermediates = hints.pool()
	chains, err := signer.Verify(vo)
	var uae x509.UnknownAuthorityError
	if err != nil && errors.As(err, &uae) && len(fallbacks) > 0 {
		for i, src := range fallbacks {
			certs, ferr := src.Intermediates(ctx, ChainRequest{Signer: signer, Roots: opts.Roots, Known: hints.certs, At: now})
			if ferr != nil {
				sourceErrs = append(sourceErrs, fmt.Sprintf("fallback source %d: %v", i, ferr))
			}
			hints.add("aia", certs...)
		}
		vo.Intermediates = hints.pool()
		chains, err = signer.Verify(vo) // retry once, as §4.2 step 10 says
	}
	if err != nil {
		return nil, nil, chainError(signer, hints.certs, fallbacks, sourceErrs, now, err)
	}
	chain := chains[0]
	var viaAIA []*x509.Certificate
	for _, c := range chain[1:] {
		if hints.origin[sha256.Sum256(c.Raw)] == "aia" {
			viaAIA = append(viaAIA, c)
		}
	}
	opts.ChainCache.put(signer, opts.Roots, chain, viaAIA)
	return chain, chainWarnings(chain, viaAIA, now), nil
}

// chainWarnings reports what a verifier should act on before it fails: intermediates
// that only AIA supplied, and chain certificates that expire within 180 days.
func chainWarnings(chain, viaAIA []*x509.Certificate, now time.Time) []string {
	var warnings []string
	for _, c := range viaAIA {
		warnings = append(warnings, fmt.Sprintf("intermediate %s was fetched over AIA; add it to the intermediates bundle", describe(c)))
	}
	for _, c := range chain[1:] {
		if c.NotAfter.Sub(now) < 180*24*time.Hour {
			warnings = append(warnings, fmt.Sprintf("chain certificate %s expires %s, within 180 days", describe(c), c.NotAfter.Format(time.DateOnly)))
		}
	}
	return warnings
}

// chainError explains a failed path: which issuer could not be found, where
// it could be downloaded, and what the operator can do.
func chainError(signer *x509.Certificate, known []*x509.Certificate, fallbacks []IntermediateSource, sourceErrs []string, now time.Time, err error) error {
	var b strings.Builder
	var uae x509.UnknownAuthorityError
	var inv x509.CertificateInvalidError
	switch {
	case errors.As(err, &uae):
		last := walkKnown(signer, known)
		fmt.Fprintf(&b, "no path from signer %s to the configured roots: issuer %q of %s was not found among %d intermediates or the roots",
			describe(signer), last.Issuer.String(), describe(last), len(known))
		if len(last.IssuingCertificateURL) > 0 {
			fmt.Fprintf(&b, " (CA Issuers URL %s)", strings.Join(last.IssuingCertificateURL, ", "))
		}
		b.WriteString("; refresh the intermediates bundle, allow AIA fetching, or check that the roots include the anchor for this generation")
		if tried := aiaTried(fallbacks); tried {
			b.WriteString(" (AIA was tried)")
		} else if len(fallbacks) > 0 {
			b.WriteString(" (AIA is off: offline mode)")
		}
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		fmt.Fprintf(&b, "certificate %s is not valid at %s (valid %s to %s); use VerifyOptions.At to audit an old document",
			describe(inv.Cert), now.UTC().Format(time.RFC3339), inv.Cert.NotBefore.Format(time.RFC3339), inv.Cert.NotAfter.Format(time.RFC3339))
	default:
		fmt.Fprintf(&b, "signer %s does not chain to the configured roots", describe(signer))
	}
	if len(sourceErrs) > 0 {
		b.WriteString("; intermediate sources reported: " + strings.Join(sourceErrs, "; "))
	}
	return newErr(ErrUntrustedChain, "chain", b.String(), err)
}

// walkKnown follows issuers through known as far as it can and returns the
// last certificate whose issuer is missing.
func walkKnown(c *x509.Certificate, known []*x509.Certificate) *x509.Certificate {
	for depth := 0; depth < 10; depth++ {
		var next *x509.Certificate
		for _, k := range known {
			if string(k.RawSubject) == string(c.RawIssuer) && k != c && c.CheckSignatureFrom(k) == nil {
				next = k
				break
			}
		}
		if next == nil {
			return c
		}
		c = next
	}
	return c
}

func describe(c *x509.Certificate) string {
	return fmt.Sprintf("%q (serial %X)", c.Subject.String(), c.SerialNumber)
}

// aiaTried reports whether any fallback source could have downloaded something: an
// offline AIA fetcher never dials, and saying "AIA was tried" would mislead.
func aiaTried(fallbacks []IntermediateSource) bool {
	for _, f := range fallbacks {
		if a, ok := f.(*AIAFetcher); ok && a.opts.Offline {
			continue
		}
		return true
	}
	return false
}
