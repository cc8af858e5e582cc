package pki

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/tegata-project/tegata/mapping"
)

// ClientCAName is the record name of the client-authentication Sub CA
// (keys/client-ca.key.json, certs/client-ca.pem) and its AIA file name.
const ClientCAName = "client-ca"

// Client certificate defaults and bounds.
const (
	DefaultClientValidity = 365 * 24 * time.Hour
	MaxClientValidity     = 5 * 365 * 24 * time.Hour
	clientCAValidity      = 10 * 365 * 24 * time.Hour
	maxUPNLength          = 1024
)

var (
	// ErrInvalidClientRequest reports a ClientRequest that cannot be issued.
	ErrInvalidClientRequest = errors.New("pki: invalid client certificate request")

	oidSmartCardLogon = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 2}
	oidUPN            = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
	oidSAN            = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// A ClientRequest says whom a client-authentication certificate is for
// (reference strong-mapping 7.3). SID must be the account's objectSid as
// the directory holds it: callers look it up in AD and never copy it from a
// certificate request, or anyone could map to anyone.
type ClientRequest struct {
	SID mapping.SID
	// UPN makes a user certificate: the userPrincipalName, carried as the
	// SAN otherName 1.3.6.1.4.1.311.20.2.3 (implicit mapping needs it).
	UPN string
	// DNSName makes a computer certificate: the dNSHostName, as a SAN
	// dNSName. Exactly one of UPN and DNSName is set.
	DNSName string
	// SANURL adds the SAN URL tag:microsoft.com,2022-09-14:sid:<SID>, which
	// DCs read only when the SID extension is absent; it helps nothing
	// beside the extension but costs nothing either.
	SANURL bool
	// SmartCardLogon adds the Smart Card Logon EKU (1.3.6.1.4.1.311.20.2.2)
	// for Windows PKINIT logon; clientAuth is always present.
	SmartCardLogon bool
	// KeyAlgorithm is ecdsa-p256 (default) or rsa-2048.
	KeyAlgorithm string
	// Validity is the lifetime (default DefaultClientValidity, at most
	// MaxClientValidity, and never past the client CA's NotAfter).
	Validity time.Duration
	// CRLURL, when set, is written as the CRL distribution point. The KDC
	// checks revocation, so DCs must be able to fetch it.
	CRLURL string
}

// A ClientCertificate is an issued certificate with its new private key
// and the chain above it: the client CA, then the root.
type ClientCertificate struct {
	Certificate *x509.Certificate
	Key         crypto.Signer
	Chain       []*x509.Certificate
}

// ClientCA returns the Sub CA that issues client-authentication
// certificates and the root above it, creating the Sub CA at now on first
// use under the newest root valid then. Its key is stored encrypted like
// the other CA keys. It is the CA to publish in NTAuth
// (certutil -dspublish -f client-ca.cer NTAuthCA) and the root the DCs must
// trust.
func (a *Authority) ClientCA(now time.Time) (ca, root *x509.Certificate, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	sub, r, err := a.clientCA(now)
	if err != nil {
		return nil, nil, err
	}
	return sub.cert, r.cert, nil
}

func (a *Authority) clientCA(now time.Time) (*subCA, *rootCA, error) {
	if err := a.sync(now); err != nil {
		return nil, nil, err
	}
	cert, key, err := a.loadPair(ClientCAName)
	if err != nil {
		return nil, nil, err
	}
	if cert != nil {
		for _, r := range a.roots {
			if bytes.Equal(cert.RawIssuer, r.cert.RawSubject) && cert.CheckSignatureFrom(r.cert) == nil {
				return &subCA{cert: cert, key: key}, r, nil
			}
		}
		return nil, nil, fmt.Errorf("%w: %s was not issued by any root of this PKI; restore it from the same backup as the roots",
			ErrCorruptStore, a.ks.certPath(ClientCAName))
	}
	var root *rootCA
	for _, r := range a.roots {
		if !now.Before(r.cert.NotBefore) && now.Before(r.cert.NotAfter) {
			root = r
		}
	}
	if root == nil {
		return nil, nil, fmt.Errorf("%w at %s: no root is valid to issue the client CA under; check pki.plan", ErrNoActiveCA, now.UTC().Format(time.RFC3339))
	}
	subject := a.plan.subject(a.plan.Organization + " Client Authentication CA")
	if err := checkPlainName(subject); err != nil {
		return nil, nil, fmt.Errorf("%w: organization %q: %v; the KDC compares issuer names as CryptoAPI renders them, so choose a plain ASCII pki.organization",
			ErrInvalidPlan, a.plan.Organization, err)
	}
	notAfter := now.Add(clientCAValidity)
	if notAfter.After(root.cert.NotAfter) {
		notAfter = root.cert.NotAfter
	}
	issuerName := root.spec.name
	if root.xsign != nil {
		issuerName = root.spec.xsignName()
	}
	// No EKU on the CA: an EKU list on an intermediate narrows what Windows
	// accepts below it, and the leaves carry their own.
	tmpl := &x509.Certificate{
		Subject: subject, NotBefore: now.Add(-leafBackdate).UTC(), NotAfter: notAfter.UTC(),
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		IssuingCertificateURL: []string{a.plan.aiaURL(issuerName)},
	}
	if tmpl.NotBefore.Before(root.cert.NotBefore) {
		tmpl.NotBefore = root.cert.NotBefore
	}
	cert, key, err = a.newPair(ClientCAName, a.plan.CAKeyAlgorithm, func(key crypto.Signer) (*x509.Certificate, error) {
		return create(tmpl, root.cert, key.Public(), root.key)
	})
	if err != nil {
		return nil, nil, err
	}
	return &subCA{cert: cert, key: key}, root, nil
}

// checkPlainName refuses names whose CryptoAPI rendering would need quoting
// or could differ from tegata's (reference 3.3): non-ASCII, control
// characters, the special characters , + = " \ < > # ; and leading or
// trailing spaces.
func checkPlainName(n pkix.Name) error {
	for _, v := range append(append([]string{n.CommonName}, n.Organization...), n.OrganizationalUnit...) {
		if v == "" || v != strings.TrimSpace(v) {
			return fmt.Errorf("%q is empty or has leading or trailing spaces", v)
		}
		for _, c := range v {
			if c < 0x20 || c > 0x7e || strings.ContainsRune(",+=\"\\<>#;", c) {
				return fmt.Errorf("%q contains %q", v, c)
			}
		}
	}
	return nil
}

// IssueClient issues a client-authentication certificate that maps
// strongly (reference 7.3): the SID extension (1.3.6.1.4.1.311.25.2,
// non-critical) with req.SID, the UPN or DNS name in the SAN, clientAuth
// (and Smart Card Logon) EKU, an explicit SubjectKeyIdentifier, a 127-bit
// serial with the top bit clear (no 00 sign byte, so the <SR> value is
// unambiguous), NotBefore backdated five minutes, and AIA (and a CRL
// distribution point when req.CRLURL is set). The key is new and not
// stored.
func (a *Authority) IssueClient(req ClientRequest, now time.Time) (*ClientCertificate, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ca, root, err := a.clientCA(now)
	if err != nil {
		return nil, err
	}
	if !now.Before(ca.cert.NotAfter) {
		return nil, fmt.Errorf("%w at %s: the client CA %s expired on %s; move %s and %s aside to create a new one, then publish it in NTAuth",
			ErrNoActiveCA, now.UTC().Format(time.RFC3339), ca.cert.Subject.CommonName, ca.cert.NotAfter.UTC().Format(time.RFC3339),
			a.ks.certPath(ClientCAName), a.ks.keyPath(ClientCAName))
	}
	alg := req.KeyAlgorithm
	if alg == "" {
		alg = KeyECDSAP256
	}
	key, err := generateKey(alg)
	if err != nil {
		return nil, err
	}
	tmpl, err := a.clientTemplate(req, ca.cert, key.Public(), now)
	if err != nil {
		return nil, err
	}
	cert, err := create(tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, err
	}
	return &ClientCertificate{Certificate: cert, Key: key, Chain: []*x509.Certificate{ca.cert, root.cert}}, nil
}

func (req ClientRequest) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidClientRequest, fmt.Sprintf(format, args...))
	}
	switch {
	case !req.SID.Valid():
		return bad("the SID %q is not valid; give the account's objectSid (S-1-5-21-...)", req.SID)
	case (req.UPN == "") == (req.DNSName == ""):
		return bad("give either a UPN (user certificate) or a DNS name (computer certificate), not both or neither")
	case req.KeyAlgorithm != "" && req.KeyAlgorithm != KeyECDSAP256 && req.KeyAlgorithm != KeyRSA2048:
		return bad("key algorithm %q: use %s or %s", req.KeyAlgorithm, KeyECDSAP256, KeyRSA2048)
	case req.Validity < 0 || req.Validity > MaxClientValidity:
		return bad("validity %s is outside 0..%s", req.Validity, MaxClientValidity)
	}
	if req.UPN != "" {
		at := strings.LastIndexByte(req.UPN, '@')
		if len(req.UPN) > maxUPNLength || !utf8.ValidString(req.UPN) || at < 1 || at == len(req.UPN)-1 ||
			strings.ContainsFunc(req.UPN, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return bad("UPN %q is not name@suffix (UTF-8, at most %d bytes)", req.UPN, maxUPNLength)
		}
	}
	if req.DNSName != "" && !validDNSName(req.DNSName) {
		return bad("DNS name %q is not a host name such as ws1.corp.example", req.DNSName)
	}
	if req.CRLURL != "" {
		if u, err := url.Parse(req.CRLURL); err != nil || (u.Scheme != "http" && u.Scheme != "ldap") || u.Host == "" && u.Scheme == "http" {
			return bad("CRL URL %q is not an http:// (or ldap://) URL", req.CRLURL)
		}
	}
	return nil
}

func validDNSName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func (a *Authority) clientTemplate(req ClientRequest, ca *x509.Certificate, pub crypto.PublicKey, now time.Time) (*x509.Certificate, error) {
	validity := req.Validity
	if validity == 0 {
		validity = DefaultClientValidity
	}
	nb, na := now.Add(-leafBackdate), now.Add(validity)
	if nb.Before(ca.NotBefore) {
		nb = ca.NotBefore
	}
	if na.After(ca.NotAfter) {
		na = ca.NotAfter
	}
	sidExt, err := mapping.SIDExtension(req.SID)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidClientRequest, err)
	}
	san, err := clientSAN(req)
	if err != nil {
		return nil, err
	}
	ski, err := keyID(pub)
	if err != nil {
		return nil, err
	}
	cn := req.UPN
	if cn == "" {
		cn = req.DNSName
	}
	tmpl := &x509.Certificate{
		Subject:   pkix.Name{CommonName: cn},
		NotBefore: nb.UTC(), NotAfter: na.UTC(),
		BasicConstraintsValid: true, IsCA: false,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		SubjectKeyId:          ski,
		IssuingCertificateURL: []string{a.plan.aiaURL(ClientCAName)},
		ExtraExtensions:       []pkix.Extension{sidExt, san},
	}
	if len(cn) > 64 { // ub-common-name; the SAN carries the full name
		tmpl.Subject.CommonName = cn[:64]
		for !utf8.ValidString(tmpl.Subject.CommonName) {
			tmpl.Subject.CommonName = tmpl.Subject.CommonName[:len(tmpl.Subject.CommonName)-1]
		}
	}
	if _, ok := pub.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment // TLS key transport
	}
	if req.SmartCardLogon {
		tmpl.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidSmartCardLogon}
	}
	if req.CRLURL != "" {
		tmpl.CRLDistributionPoints = []string{req.CRLURL}
	}
	return tmpl, nil
}

// clientSAN builds the subjectAltName by hand: crypto/x509 has no field
// for otherName, and an extension in ExtraExtensions replaces the SAN it
// would build, so every name goes in here (reference 2.3).
func clientSAN(req ClientRequest) (pkix.Extension, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(names *cryptobyte.Builder) {
		if req.UPN != "" {
			// otherName [0] { type-id, [0] EXPLICIT UTF8String }
			names.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(on *cryptobyte.Builder) {
				on.AddASN1ObjectIdentifier(oidUPN)
				on.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(v *cryptobyte.Builder) {
					v.AddASN1(cbasn1.UTF8String, func(s *cryptobyte.Builder) { s.AddBytes([]byte(req.UPN)) })
				})
			})
		}
		if req.DNSName != "" {
			names.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(s *cryptobyte.Builder) { s.AddBytes([]byte(req.DNSName)) })
		}
		if req.SANURL {
			names.AddASN1(cbasn1.Tag(6).ContextSpecific(), func(s *cryptobyte.Builder) { s.AddBytes([]byte(mapping.SANURL(req.SID))) })
		}
	})
	der, err := b.Bytes()
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("pki: encoding the subjectAltName: %w", err)
	}
	return pkix.Extension{Id: oidSAN, Value: der}, nil
}
