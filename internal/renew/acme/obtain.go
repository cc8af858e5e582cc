package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/go-acme/lego/v4/certcrypto"
	"github.com/go-acme/lego/v4/certificate"
	"github.com/go-acme/lego/v4/challenge/http01"
	"github.com/go-acme/lego/v4/lego"
)

// KeyType is the type of a private key Obtain generates.
type KeyType string

// The key types Obtain can generate (those Let's Encrypt accepts).
const (
	KeyEC256   KeyType = "EC256"
	KeyEC384   KeyType = "EC384"
	KeyRSA2048 KeyType = "RSA2048"
	KeyRSA3072 KeyType = "RSA3072"
	KeyRSA4096 KeyType = "RSA4096"
)

// An Order asks for one certificate.
type Order struct {
	// Names are the DNS names (wildcards allowed) the certificate covers;
	// the first is also its common name. With CSR set, Names may be empty
	// (the CSR's names are used) or must hold the same names.
	Names []string
	// CSR is a DER certificate request to finalize the order with: the
	// vault's create→CSR→merge flow, where the private key never leaves
	// the vault. Empty means Obtain generates a key of KeyType.
	CSR []byte
	// KeyType is the key Obtain generates when CSR is empty (default EC256).
	KeyType KeyType
	// Profile names one of the CA's profiles (Directory.Profiles); empty
	// lets the CA choose.
	Profile string
	// ReplacesCertID is the ARI CertID (see CertID) of the certificate this
	// one renews. Sent only when the CA advertises ARI; if the CA rejects
	// the order because of it, Obtain retries exactly once without it.
	ReplacesCertID string
	// PreferredChain is the common name of the root (or top intermediate)
	// of the chain to pick when the CA offers alternates.
	PreferredChain string
	// Solver answers the challenges: a DNS01 or an HTTP01.
	Solver Solver
}

// A Solver answers challenges: DNS01 or HTTP01.
type Solver interface{ isSolver() }

// HTTP01 answers http-01 challenges with a web server of its own, started
// for each authorization on Address (host:port; the CA connects to port 80
// of the name, so this sits behind a port forward or a proxy that passes
// /.well-known/acme-challenge/ through).
type HTTP01 struct {
	Address string
}

func (HTTP01) isSolver() {}

// A Certificate is what Obtain returns.
type Certificate struct {
	// Chain is the certificate chain, leaf first, as the CA served it.
	Chain []*x509.Certificate
	// PEM is Chain, PEM-encoded.
	PEM []byte
	// Key is the generated private key; nil when the order had a CSR.
	Key crypto.Signer
	// CertURL is where the CA serves the certificate.
	CertURL string
	// Replaces is the CertID the successful order replaced: the order's
	// ReplacesCertID, or empty when the CA has no ARI or the order was
	// retried without it.
	Replaces string
}

// Obtain orders a certificate, answers its challenges, finalizes the
// order and downloads the chain. Errors are *Error values, classified for
// the scheduler (see ErrDNS and the others), or ctx's error.
func (c *Client) Obtain(ctx context.Context, o Order) (*Certificate, error) {
	csr, names, err := c.checkOrder(o)
	if err != nil {
		return nil, err
	}
	var key crypto.Signer
	if csr == nil {
		if key, err = generateKey(o.KeyType); err != nil {
			return nil, err
		}
	}
	replaces := o.ReplacesCertID
	if c.dir.RenewalInfoURL == "" {
		replaces = "" // lego would drop it anyway
	}
	cert, tr, err := c.obtain(ctx, o, csr, names, key, replaces)
	if err != nil && replaces != "" && ctx.Err() == nil && isReplacesRejection(err, c.dir.NewOrderURL) {
		// B.5: any replaces-related rejection gets one retry without it
		// (after an account change, the CA refuses to let this account
		// replace another's certificate).
		replaces = ""
		cert, tr, err = c.obtain(ctx, o, csr, names, key, "")
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("acme: obtaining a certificate for %s: %w", strings.Join(names, ", "), ctx.Err())
		}
		return nil, classify("obtaining a certificate for "+strings.Join(names, ", "), err, tr)
	}
	if replaces != "" && tr.sawAlreadyReplaced() {
		replaces = "" // lego retried without it on alreadyReplaced
	}
	out, err := parseChain(cert.Certificate)
	if err != nil {
		return nil, fmt.Errorf("acme: the CA's certificate for %s: %w", strings.Join(names, ", "), err)
	}
	out.Key, out.CertURL, out.Replaces = key, cert.CertURL, replaces
	return out, nil
}

// checkOrder validates o and returns its parsed CSR (nil without one) and
// its names.
func (c *Client) checkOrder(o Order) (*x509.CertificateRequest, []string, error) {
	names := o.Names
	var csr *x509.CertificateRequest
	if len(o.CSR) > 0 {
		var err error
		if csr, err = x509.ParseCertificateRequest(o.CSR); err != nil {
			return nil, nil, newError(ErrMalformed, "checking the order", "the CSR is not a DER certificate request", err)
		}
		if err := csr.CheckSignature(); err != nil {
			return nil, nil, newError(ErrMalformed, "checking the order", "the CSR's signature does not verify", err)
		}
		csrNames := certcrypto.ExtractDomainsCSR(csr)
		if len(names) > 0 && !sameNames(names, csrNames) {
			return nil, nil, newError(ErrMalformed, "checking the order",
				fmt.Sprintf("the order names %v but the CSR names %v", names, csrNames), nil)
		}
		names = csrNames
	}
	if len(names) == 0 {
		return nil, nil, newError(ErrMalformed, "checking the order", "the order names no DNS name", nil)
	}
	for _, n := range names {
		if net.ParseIP(n) != nil {
			return nil, nil, newError(ErrRejectedIdentifier, "checking the order",
				fmt.Sprintf("%s is an IP address; only DNS names are supported", n), nil)
		}
	}
	if o.Profile != "" {
		if _, ok := c.dir.Profiles[o.Profile]; !ok {
			offered := "none"
			if len(c.dir.Profiles) > 0 {
				offered = strings.Join(slices.Sorted(maps.Keys(c.dir.Profiles)), ", ")
			}
			return nil, nil, newError(ErrMalformed, "checking the order",
				fmt.Sprintf("the CA does not offer the profile %q (it offers: %s)", o.Profile, offered), nil)
		}
	}
	switch s := o.Solver.(type) {
	case DNS01:
		if s.Provider == nil {
			return nil, nil, errors.New("acme: the DNS01 solver has no provider")
		}
	case *DNS01:
		if s == nil || s.Provider == nil {
			return nil, nil, errors.New("acme: the DNS01 solver has no provider")
		}
	case HTTP01, *HTTP01:
	default:
		return nil, nil, errors.New("acme: the order has no solver (DNS01 or HTTP01)")
	}
	return csr, names, nil
}

func sameNames(a, b []string) bool {
	norm := func(s []string) []string {
		out := make([]string, len(s))
		for i, n := range s {
			out[i] = strings.ToLower(strings.TrimSuffix(n, "."))
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}

// obtain runs one order through lego.
func (c *Client) obtain(ctx context.Context, o Order, csr *x509.CertificateRequest, names []string,
	key crypto.Signer, replaces string) (*certificate.Resource, *tracker, error) {
	lc, tr, err := c.lego(ctx)
	if err != nil {
		return nil, tr, err
	}
	if err := c.setSolver(ctx, lc, o.Solver); err != nil {
		return nil, tr, err
	}
	var res *certificate.Resource
	if csr != nil {
		res, err = lc.Certificate.ObtainForCSR(certificate.ObtainForCSRRequest{
			CSR: csr, Bundle: true, PreferredChain: o.PreferredChain, Profile: o.Profile, ReplacesCertID: replaces,
		})
	} else {
		res, err = lc.Certificate.Obtain(certificate.ObtainRequest{
			Domains: names, PrivateKey: key, Bundle: true, PreferredChain: o.PreferredChain,
			Profile: o.Profile, ReplacesCertID: replaces,
		})
	}
	return res, tr, err
}

func (c *Client) setSolver(ctx context.Context, lc *lego.Client, s Solver) error {
	switch s := s.(type) {
	case *DNS01:
		return c.setSolver(ctx, lc, *s)
	case *HTTP01:
		return c.setSolver(ctx, lc, *s)
	case DNS01:
		p, opts := newDNSSolver(ctx, s)
		return lc.Challenge.SetDNS01Provider(p, opts...)
	case HTTP01:
		host, port, err := net.SplitHostPort(s.Address)
		if err != nil {
			return fmt.Errorf("acme: HTTP01 address %q is not host:port: %w", s.Address, err)
		}
		return lc.Challenge.SetHTTP01Provider(http01.NewProviderServer(host, port))
	}
	return errors.New("acme: unknown solver")
}

func generateKey(t KeyType) (crypto.Signer, error) {
	switch t {
	case "", KeyEC256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyEC384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case KeyRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	}
	return nil, newError(ErrMalformed, "checking the order",
		fmt.Sprintf("key type %q is not one of EC256, EC384, RSA2048, RSA3072, RSA4096", t), nil)
}

// parseChain parses a PEM bundle, leaf first.
func parseChain(bundle []byte) (*Certificate, error) {
	out := &Certificate{}
	rest := bundle
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out.Chain = append(out.Chain, cert)
		out.PEM = append(out.PEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes})...)
	}
	if len(out.Chain) == 0 {
		return nil, errors.New("no certificate in the CA's answer")
	}
	if out.Chain[0].IsCA {
		return nil, errors.New("the chain starts with a CA certificate")
	}
	return out, nil
}

// RevocationReason is a CRL reason code (RFC 5280 §5.3.1).
type RevocationReason uint

// The revocation reasons ACME CAs accept.
const (
	ReasonUnspecified          RevocationReason = 0
	ReasonKeyCompromise        RevocationReason = 1
	ReasonAffiliationChanged   RevocationReason = 3
	ReasonSuperseded           RevocationReason = 4
	ReasonCessationOfOperation RevocationReason = 5
)

// Revoke asks the CA to revoke cert, signing the request with the
// account key (the account must have ordered cert or hold authorizations
// for its names).
func (c *Client) Revoke(ctx context.Context, cert *x509.Certificate, reason RevocationReason) error {
	if cert == nil {
		return errors.New("acme: Revoke of a nil certificate")
	}
	lc, tr, err := c.lego(ctx)
	if err != nil {
		return err
	}
	r := uint(reason)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := lc.Certificate.RevokeWithReason(certPEM, &r); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("acme: revoking serial %x: %w", cert.SerialNumber, ctx.Err())
		}
		return classify(fmt.Sprintf("revoking serial %x", cert.SerialNumber), err, tr)
	}
	return nil
}

// cleanupTimeout bounds DNS cleanup that runs after the caller's context
// ended (B.6: clean up always).
const cleanupTimeout = 30 * time.Second
