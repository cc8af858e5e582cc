package agent

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tegata-project/tegata/internal/certkit"
)

// clockSkew is how far ahead of now a NotBefore may be (C.4).
const clockSkew = 5 * time.Minute

// A Candidate is a certificate version read from the vault, parsed but not
// yet installed.
type Candidate struct {
	Version  string
	Material certkit.Material
	Leaf     *x509.Certificate
	// Path is the leaf, then each issuer found among the certificates of
	// the secret; Others are the certificates that are not on it.
	Path   []*x509.Certificate
	Others []*x509.Certificate
	// Notes are harmless oddities worth a log line.
	Notes []string
}

// Installed describes the version a target's link points to.
type Installed struct {
	Version   string    `json:"version"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	Serial    string    `json:"serial"`
	// File is the version file's path.
	File string `json:"file"`
}

// ParseSecret reads a certificate's secret (A.9): base64 PKCS#12 with an
// empty password when contentType is application/x-pkcs12, PEM (read by
// block type, in any order, Q25) when it is application/x-pem-file; with no
// contentType, PEM is recognised by its -----BEGIN line. A secret that is
// not a certificate with its key gives a *RefusedError wrapping
// ErrNotCertificate; a key that no certificate carries, ErrKeyMismatch.
func ParseSecret(s *Secret) (*Candidate, error) {
	refuse := func(reason error, format string, args ...any) error {
		return &RefusedError{Version: s.Version, Reason: fmt.Errorf("%w: %s", reason, fmt.Sprintf(format, args...))}
	}
	ct := strings.ToLower(strings.TrimSpace(s.ContentType))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	switch ct {
	case certkit.ContentTypePKCS12, certkit.ContentTypePEM:
	case "":
		ct = certkit.ContentTypePKCS12
		if strings.Contains(s.Value, "-----BEGIN ") {
			ct = certkit.ContentTypePEM
		}
	default:
		return nil, refuse(ErrNotCertificate, "its contentType is %q; a certificate's secret is %s or %s", truncateText(s.ContentType, 60), certkit.ContentTypePKCS12, certkit.ContentTypePEM)
	}
	m, err := certkit.ParseImport([]byte(s.Value), "", ct, false)
	switch {
	case err == nil:
	case errors.Is(err, certkit.ErrKeyMismatch):
		return nil, refuse(ErrKeyMismatch, "%v", err)
	default:
		return nil, refuse(ErrNotCertificate, "%v", err)
	}
	c := &Candidate{Version: s.Version, Material: m, Leaf: m.Leaf()}
	if c.Leaf == nil || !publicKeyEqual(m.Key.Public(), c.Leaf.PublicKey) {
		return nil, refuse(ErrKeyMismatch, "no certificate carries the private key's public key")
	}
	c.Path, c.Others = certkit.IssuerPath(c.Leaf, m.Chain)
	return c, nil
}

// CheckOptions say what Candidate.Check compares against.
type CheckOptions struct {
	Now time.Time
	// Installed is the version on disk, or nil.
	Installed *Installed
	// Pinned skips the newer-than-installed check: the URL names the
	// version the operator wants.
	Pinned bool
	// Roots, when set, must anchor the chain (tegata.requireTrustedRoot).
	Roots *x509.CertPool
}

// Check decides whether c may replace what is installed. It returns nil or
// a *RefusedError wrapping ErrNotYetValid (NotBefore more than 5 minutes
// ahead), ErrExpired, ErrChain (the certificates present do not verify as a
// chain from the leaf, with crypto/x509 and the topmost certificate given
// as anchor; or, with Roots, the chain does not reach a trusted root) or
// ErrNotNewer (neither NotBefore nor NotAfter is later than the installed
// version's).
func (c *Candidate) Check(o CheckOptions) error {
	refuse := func(reason error, format string, args ...any) error {
		return &RefusedError{Version: c.Version, Reason: fmt.Errorf("%w: %s", reason, fmt.Sprintf(format, args...))}
	}
	leaf, now := c.Leaf, o.Now
	if leaf.NotBefore.After(now.Add(clockSkew)) {
		return refuse(ErrNotYetValid, "NotBefore is %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if !now.Before(leaf.NotAfter) {
		return refuse(ErrExpired, "NotAfter was %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	at := now
	if leaf.NotBefore.After(at) {
		at = leaf.NotBefore
	}
	top := c.Path[len(c.Path)-1]
	selfIssued := bytes.Equal(top.RawIssuer, top.RawSubject)
	switch {
	case len(c.Path) == 1 && len(c.Others) > 0 && !selfIssued:
		return refuse(ErrChain, "none of the %d other certificates issued the leaf (issuer %q)", len(c.Others), leaf.Issuer.String())
	case len(c.Path) > 1 || selfIssued:
		anchor := x509.NewCertPool()
		anchor.AddCert(top)
		inter := x509.NewCertPool()
		for _, ic := range c.Path[1:max(len(c.Path)-1, 1)] {
			inter.AddCert(ic)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: anchor, Intermediates: inter, CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return refuse(ErrChain, "%v", err)
		}
	}
	if len(c.Path) == 1 && !selfIssued {
		c.Notes = append(c.Notes, fmt.Sprintf("the secret holds no issuer of the leaf (issuer %q): clients must have the intermediates already", leaf.Issuer.String()))
	}
	if len(c.Others) > 0 && len(c.Path) > 1 {
		c.Notes = append(c.Notes, fmt.Sprintf("%d certificate(s) of the secret are not on the leaf's chain; written after it", len(c.Others)))
	}
	if o.Roots != nil {
		inter := x509.NewCertPool()
		for _, ic := range c.Material.Chain {
			if ic != leaf {
				inter.AddCert(ic)
			}
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: o.Roots, Intermediates: inter, CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return refuse(ErrChain, "it does not reach a trusted root (tegata.requireTrustedRoot): %v", err)
		}
	}
	if in := o.Installed; in != nil && !o.Pinned && !strings.EqualFold(in.Version, c.Version) {
		if !leaf.NotBefore.After(in.NotBefore) && !leaf.NotAfter.After(in.NotAfter) {
			return refuse(ErrNotNewer, "NotBefore %s and NotAfter %s are not later than installed version %s's (%s, %s)",
				leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), in.Version,
				in.NotBefore.UTC().Format(time.RFC3339), in.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// publicKeyEqual compares two public keys.
func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
