// Package attested makes the metadata service's attested documents: it builds the
// document for the calling VM and api-version, signs it with the signing certificate
// that the PKI says is current, and caches it as Azure does (docs/imds.md §4.3).
package attested

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	"github.com/tegata-project/tegata/attest"
	"github.com/tegata-project/tegata/internal/instance"
)

// SignerSource gives the signing key and certificate current at a moment, with the
// chain above it (Sub CA first, root excluded or last). internal/pki's Authority is one.
type SignerSource interface {
	Signer(now time.Time) (crypto.Signer, *x509.Certificate, []*x509.Certificate, error)
}

// Cache modes.
const (
	// CacheHonour signs a fresh document for every distinct nonce (the default).
	CacheHonour = "honour"
	// CacheAzure returns a VM's cached document until it expires, whatever nonce is
	// asked for, as real IMDS may: clients must check the nonce and retry.
	CacheAzure = "azure"
)

// Options sets how documents are made.
type Options struct {
	// TTL is expiresOn - createdOn; Azure's documents live 6 hours.
	TTL time.Duration
	// Cache is CacheHonour or CacheAzure.
	Cache string
	// AzureProfile writes Azure's envelope exactly (the digest-OID quirk, the leaf
	// only). Off, documents follow the private-cloud profile: the standard SHA-256 OID
	// and the Sub CA embedded, so verifiers need no AIA.
	AzureProfile bool
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
}

// maxCached bounds the cache; past it the cache starts afresh.
const maxCached = 100_000

// Service signs and caches attested documents. It is safe for concurrent use.
type Service struct {
	src  SignerSource
	opts Options

	mu    sync.Mutex
	cache map[cacheKey]cached
}

type cacheKey struct {
	vm, nonce, version string
}

type cached struct {
	body    []byte
	expires time.Time
}

// New returns a Service that signs with src.
func New(src SignerSource, opts Options) (*Service, error) {
	if opts.TTL <= 0 || opts.TTL > 7*24*time.Hour {
		return nil, fmt.Errorf("attested ttl %s: use a duration up to 7 days (Azure: 6h)", opts.TTL)
	}
	switch opts.Cache {
	case CacheHonour, CacheAzure:
	default:
		return nil, fmt.Errorf("attested cache %q: use %s or %s", opts.Cache, CacheHonour, CacheAzure)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Service{src: src, opts: opts, cache: make(map[cacheKey]cached)}, nil
}

// DefaultNonce is the nonce IMDS writes when the caller gives none: the UTC time as
// YYYYMMDD-HHMMSS.
func DefaultNonce(t time.Time) string { return t.UTC().Format("20060102-150405") }

// Response returns the body of /metadata/attested/document for in at apiVersion:
// {"encoding":"pkcs7","signature":"<base64 DER>"}. nonce is "" when the caller sent
// none.
func (s *Service) Response(in *instance.Instance, apiVersion, nonce string) ([]byte, error) {
	now := s.opts.Clock()
	if nonce == "" {
		nonce = DefaultNonce(now)
	}
	// Honour mode keys on the nonce, so a repeated nonce (or two calls without one in the
	// same second) shares a signature; Azure mode keys on the VM and version only.
	key := cacheKey{vm: in.Name, nonce: nonce, version: apiVersion}
	if s.opts.Cache == CacheAzure {
		key.nonce = ""
	}
	s.mu.Lock()
	c, ok := s.cache[key]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.body, nil
	}

	doc := attest.Document{
		LicenseType:    in.Compute.LicenseType,
		Nonce:          nonce,
		Plan:           attest.Plan{Name: in.Compute.Plan.Name, Product: in.Compute.Plan.Product, Publisher: in.Compute.Plan.Publisher},
		SKU:            in.Compute.SKU,
		SubscriptionID: in.Compute.SubscriptionID,
		TimeStamp:      attest.TimeStamp{CreatedOn: now.UTC().Truncate(time.Second), ExpiresOn: now.UTC().Truncate(time.Second).Add(s.opts.TTL)},
		VMID:           in.Compute.VMID,
	}
	signer, leaf, chain, err := s.src.Signer(now)
	if err != nil {
		return nil, fmt.Errorf("attested document: no signing certificate: %w", err)
	}
	opts := attest.SignOptions{}
	if s.opts.AzureProfile {
		opts = attest.AzureSignOptions()
	} else {
		for _, c := range chain {
			if !bytes.Equal(c.RawSubject, c.RawIssuer) { // never embed a root
				opts.Intermediates = append(opts.Intermediates, c)
			}
		}
	}
	der, err := attest.Sign(doc.MarshalAzure(apiVersion), signer, leaf, opts)
	if err != nil {
		return nil, fmt.Errorf("attested document: %w", err)
	}
	body := attest.MarshalResponse(der)
	s.mu.Lock()
	if len(s.cache) >= maxCached {
		s.cache = make(map[cacheKey]cached)
	}
	s.cache[key] = cached{body: body, expires: doc.TimeStamp.ExpiresOn}
	s.mu.Unlock()
	return body, nil
}
