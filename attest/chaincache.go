package attest

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"
)

// ChainCache remembers the chains Verify has built, per signer certificate and root
// pool, so that a verifier that sees many documents from the same signer (a fleet's
// documents are signed by a handful of leaves) checks the chain's signatures once
// instead of on every document. A cached chain is used only at times inside every
// certificate's validity. It is safe for concurrent use; the zero value is not usable:
// call NewChainCache.
type ChainCache struct {
	max int

	mu      sync.Mutex
	entries map[chainKey]chainEntry
}

type chainKey struct {
	signer [32]byte
	// roots is the pool's identity: a chain found for one pool is not reused for
	// another. CertPool only grows, so a chain valid for a pool stays valid.
	roots *x509.CertPool
}

type chainEntry struct {
	chain             []*x509.Certificate
	notBefore         time.Time
	notAfter          time.Time
	fetchedViaAIA     []*x509.Certificate
	intermediateCount int
}

// NewChainCache returns a cache holding at most max chains (a few hundred bytes each
// beyond the certificates, which are shared); past it, it starts afresh.
func NewChainCache(max int) *ChainCache {
	if max < 1 {
		max = 1
	}
	return &ChainCache{max: max, entries: make(map[chainKey]chainEntry)}
}

func (c *ChainCache) get(signer *x509.Certificate, roots *x509.CertPool, at time.Time) (chainEntry, bool) {
	if c == nil {
		return chainEntry{}, false
	}
	c.mu.Lock()
	e, ok := c.entries[chainKey{sha256.Sum256(signer.Raw), roots}]
	c.mu.Unlock()
	if !ok || at.Before(e.notBefore) || at.After(e.notAfter) {
		return chainEntry{}, false
	}
	return e, true
}

func (c *ChainCache) put(signer *x509.Certificate, roots *x509.CertPool, chain []*x509.Certificate, viaAIA []*x509.Certificate) {
	if c == nil {
		return
	}
	e := chainEntry{chain: chain, fetchedViaAIA: viaAIA}
	for i, cert := range chain {
		if i == 0 || cert.NotBefore.After(e.notBefore) {
			e.notBefore = cert.NotBefore
		}
		if i == 0 || cert.NotAfter.Before(e.notAfter) {
			e.notAfter = cert.NotAfter
		}
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		c.entries = make(map[chainKey]chainEntry)
	}
	c.entries[chainKey{sha256.Sum256(signer.Raw), roots}] = e
	c.mu.Unlock()
}
