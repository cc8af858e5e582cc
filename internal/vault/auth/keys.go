package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// A KeySource supplies the token issuer's public signing keys (its JWKS).
//
// Keys returns the current set. The returned set must not be modified: a
// Validator indexes it once and reuses the index for as long as Keys keeps
// returning the same pointer, so a source should return the same pointer until
// its keys change.
type KeySource interface {
	Keys(ctx context.Context) (*jose.JSONWebKeySet, error)
}

// A Refresher is a KeySource that can look again for keys it does not have yet,
// as after the issuer rotated its signing key. A Validator calls Refresh when a
// token names a kid that is absent from the set Keys returned; Refresh may
// decline to fetch (rate limiting) and return the set it has.
type Refresher interface {
	KeySource
	Refresh(ctx context.Context) (*jose.JSONWebKeySet, error)
}

// Limits and intervals of RemoteKeySet.
const (
	// MaxJWKSSize bounds the JWKS document RemoteKeySet reads.
	MaxJWKSSize = 1 << 20
	// JWKSFetchTimeout bounds one JWKS fetch.
	JWKSFetchTimeout = 10 * time.Second
	// JWKSCacheTime is how long a fetched JWKS is used before it is fetched again.
	JWKSCacheTime = time.Hour
	// JWKSRefetchInterval is the least time between two fetches caused by
	// unknown kids or by failures, so that tokens naming forged kids cannot make
	// the vault hammer the issuer.
	JWKSRefetchInterval = 30 * time.Second
	// jwksFirstRetry is the least time between two attempts while no set has
	// ever been fetched (the issuer may be starting up).
	jwksFirstRetry = 5 * time.Second
)

// StaticKeys returns a KeySource that always returns set.
func StaticKeys(set jose.JSONWebKeySet) KeySource {
	s := set
	s.Keys = append([]jose.JSONWebKey(nil), set.Keys...)
	return staticKeys{&s}
}

type staticKeys struct{ set *jose.JSONWebKeySet }

func (s staticKeys) Keys(context.Context) (*jose.JSONWebKeySet, error) { return s.set, nil }

// FuncKeys returns a KeySource for an issuer in the same process: jwks returns
// the issuer's JWKS document (as identity.Issuer.JWKS does) and is called on
// every Keys call. The document is parsed only when its bytes differ from the
// previous call's, so repeated calls cost one comparison. If a changed document
// does not parse, the last good set is kept; with none, Keys returns the error.
func FuncKeys(jwks func() []byte) KeySource {
	return &funcKeys{fn: jwks}
}

type funcKeys struct {
	fn  func() []byte
	cur atomic.Pointer[funcState]
}

type funcState struct {
	raw []byte
	set *jose.JSONWebKeySet
}

func (f *funcKeys) Keys(context.Context) (*jose.JSONWebKeySet, error) {
	b := f.fn()
	st := f.cur.Load()
	if st != nil && bytes.Equal(st.raw, b) {
		return st.set, nil
	}
	set, err := ParseKeySet(b)
	if err != nil {
		if st != nil {
			return st.set, nil
		}
		return nil, fmt.Errorf("issuer JWKS: %w", err)
	}
	f.cur.Store(&funcState{raw: bytes.Clone(b), set: set})
	return set, nil
}

// ParseKeySet parses a JWKS document. Keys that do not parse (an unknown kty or
// curve, a bad certificate) are skipped, so one exotic key does not hide the
// others; keys carrying private or symmetric material are skipped unparsed
// (go-jose does not parse those safely from untrusted input). It fails when the
// document is not a JSON object with a "keys" array or when no key parses.
func ParseKeySet(data []byte) (*jose.JSONWebKeySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a JWKS document: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`not a JWKS document: no "keys" array`)
	}
	set := &jose.JSONWebKeySet{}
	for _, raw := range doc.Keys {
		if hasPrivateMembers(raw) {
			continue // never parse private or symmetric key material
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil || !k.Valid() || !k.IsPublic() {
			continue
		}
		set.Keys = append(set.Keys, k)
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("JWKS has none of its %d keys in a usable form", len(doc.Keys))
	}
	return set, nil
}

// hasPrivateMembers reports whether the JWK raw has a member that only private
// or symmetric keys carry (RFC 7518 §6.2.2, §6.3.2, §6.4).
func hasPrivateMembers(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return true
	}
	for _, name := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"} {
		if _, ok := m[name]; ok {
			return true
		}
	}
	return false
}

// RemoteKeySet fetches an issuer's JWKS over HTTP(S). It reads at most
// MaxJWKSSize bytes, gives up a fetch after JWKSFetchTimeout, uses a fetched
// set for JWKSCacheTime, fetches again for an unknown kid at most once per
// JWKSRefetchInterval, and keeps the last good set when a fetch fails. It is
// safe for concurrent use.
type RemoteKeySet struct {
	// Clock is the time source; nil means time.Now. Set it before first use.
	Clock func() time.Time

	url    string
	client *http.Client

	fetchMu sync.Mutex // held while fetching; at most one fetch at a time

	mu        sync.Mutex // guards the fields below
	set       *jose.JSONWebKeySet
	fetched   time.Time // of the current set
	attempted time.Time // of the last fetch, successful or not
	lastErr   error
}

// RemoteKeys returns a RemoteKeySet for the JWKS at url, fetched with client
// (nil means a client with a JWKSFetchTimeout timeout). Nothing is fetched until
// the first Keys call.
func RemoteKeys(url string, client *http.Client) *RemoteKeySet {
	if client == nil {
		client = &http.Client{Timeout: JWKSFetchTimeout}
	}
	return &RemoteKeySet{url: url, client: client}
}

func (r *RemoteKeySet) now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}

func (r *RemoteKeySet) state() (set *jose.JSONWebKeySet, fetched, attempted time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.set, r.fetched, r.attempted, r.lastErr
}

// Keys returns the cached set while it is younger than JWKSCacheTime, and
// fetches otherwise. While a stale set is being refreshed by another caller, or
// a refresh failed less than JWKSRefetchInterval ago, it returns the stale set
// rather than wait. It fails only when no set was ever fetched.
func (r *RemoteKeySet) Keys(ctx context.Context) (*jose.JSONWebKeySet, error) {
	set, fetched, attempted, lastErr := r.state()
	now := r.now()
	if set != nil {
		if now.Sub(fetched) < JWKSCacheTime || now.Sub(attempted) < JWKSRefetchInterval {
			return set, nil
		}
		if !r.fetchMu.TryLock() {
			return set, nil
		}
	} else {
		if !attempted.IsZero() && now.Sub(attempted) < jwksFirstRetry {
			return nil, lastErr
		}
		r.fetchMu.Lock()
	}
	defer r.fetchMu.Unlock()
	// Another caller may have fetched while this one waited for the lock.
	set, fetched, attempted, lastErr = r.state()
	now = r.now()
	switch {
	case set != nil && now.Sub(fetched) < JWKSCacheTime:
		return set, nil
	case set == nil && !attempted.IsZero() && now.Sub(attempted) < jwksFirstRetry:
		return nil, lastErr
	}
	return r.fetch(ctx)
}

// Refresh fetches the JWKS again unless the last fetch was less than
// JWKSRefetchInterval ago, and returns the newest set it has.
func (r *RemoteKeySet) Refresh(ctx context.Context) (*jose.JSONWebKeySet, error) {
	r.fetchMu.Lock()
	defer r.fetchMu.Unlock()
	set, _, attempted, lastErr := r.state()
	if !attempted.IsZero() && r.now().Sub(attempted) < JWKSRefetchInterval {
		if set == nil {
			return nil, lastErr
		}
		return set, nil
	}
	return r.fetch(ctx)
}

// fetch downloads and parses the JWKS; callers hold fetchMu. On failure it
// keeps and returns the last good set, or returns the error when there is none.
func (r *RemoteKeySet) fetch(ctx context.Context) (*jose.JSONWebKeySet, error) {
	set, err := r.download(ctx)
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempted = now
	if err != nil {
		r.lastErr = err
		if r.set != nil {
			return r.set, nil
		}
		return nil, err
	}
	r.set, r.fetched, r.lastErr = set, now, nil
	return set, nil
}

func (r *RemoteKeySet) download(ctx context.Context) (*jose.JSONWebKeySet, error) {
	// The fetch serves every waiting caller, so the first caller's cancellation
	// must not abort it; the timeout still bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), JWKSFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS URL %q: %w", r.url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching JWKS from %s: HTTP %d", r.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading JWKS from %s: %w", r.url, err)
	}
	if len(body) > MaxJWKSSize {
		return nil, fmt.Errorf("JWKS from %s is larger than %d bytes", r.url, MaxJWKSSize)
	}
	set, err := ParseKeySet(body)
	if err != nil {
		return nil, fmt.Errorf("JWKS from %s: %w", r.url, err)
	}
	return set, nil
}

// keyIndex is a KeySource's set arranged for lookups by kid.
type keyIndex struct {
	set    *jose.JSONWebKeySet
	byKid  map[string][]any // verification keys by kid
	usable []any            // every verification key
}

// newKeyIndex keeps the keys of set that can verify a signature with one of
// SignatureAlgorithms: use "sig" or unset, alg unset or allowed, and a public key
// of a suitable type and size.
func newKeyIndex(set *jose.JSONWebKeySet) *keyIndex {
	idx := &keyIndex{set: set, byKid: make(map[string][]any)}
	if set == nil {
		return idx
	}
	for i := range set.Keys {
		k := &set.Keys[i]
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		fits := false
		for _, alg := range SignatureAlgorithms {
			if (k.Algorithm == "" || k.Algorithm == string(alg)) && keyFits(alg, k.Key) {
				fits = true
				break
			}
		}
		if !fits {
			continue
		}
		idx.byKid[k.KeyID] = append(idx.byKid[k.KeyID], k.Key)
		idx.usable = append(idx.usable, k.Key)
	}
	return idx
}

// minRSABits is the smallest RSA modulus accepted for signature verification.
const minRSABits = 2048

// keyFits reports whether key can verify signatures made with alg.
func keyFits(alg jose.SignatureAlgorithm, key any) bool {
	switch alg {
	case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
		k, ok := key.(*rsa.PublicKey)
		return ok && k.N.BitLen() >= minRSABits
	case jose.ES256:
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve.Params().BitSize == 256
	case jose.ES384:
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve.Params().BitSize == 384
	}
	return false
}
