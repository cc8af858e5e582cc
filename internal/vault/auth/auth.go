// Package auth validates the bearer tokens a Key Vault-compatible vault accepts
// and writes the challenge Key Vault clients parse.
//
// A Validator checks a token as Key Vault does (reference A.4): an RS256 compact
// JWS signed by one of the issuer's keys (found by kid in a JWKS), with the
// configured issuer, an audience that is the vault resource (with or without a
// trailing slash, or with /.default), exp and nbf within a clock skew, the
// vault's tenant in tid and a caller in oid. Successful validations are cached
// by the token's SHA-256, so a client that presents the same token on every
// request costs one hash and one map lookup.
//
// Challenge writes the WWW-Authenticate value of the 401 that tells a client
// where to get a token, refusing values the Azure SDKs cannot parse.
package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// SignatureAlgorithms are the JWS algorithms a token may be signed with. It is
// passed to jwt.ParseSigned, which refuses any other alg header (so "none", the
// HMAC algorithms and algorithm confusion never reach verification). Entra ID
// and tegata's issuer sign with RS256. Change it only before creating
// Validators.
var SignatureAlgorithms = []jose.SignatureAlgorithm{jose.RS256}

// MaxTokenSize is the largest token Validate reads, in bytes.
const MaxTokenSize = 16 << 10

// Defaults of Options.
const (
	DefaultSkew      = 5 * time.Minute
	DefaultCacheSize = 10000
)

// cacheFor bounds how long a validated token is served from the cache.
const cacheFor = 5 * time.Minute

// Errors of Validate, wrapped with a message that says what was wrong. The
// messages are safe to return to the caller: they never contain key material,
// only values the token itself carries and the vault's public configuration.
// Every one of them calls for a 401 with the challenge, except ErrUnavailable,
// which is the server's fault.
var (
	// ErrMalformed: not a compact JWS of a JSON claims set, too large, or
	// missing exp.
	ErrMalformed = errors.New("malformed token")
	// ErrSignature: an algorithm other than SignatureAlgorithms, no key of the
	// issuer matches the kid, or the signature does not verify.
	ErrSignature = errors.New("invalid token signature")
	// ErrExpired: exp has passed or nbf has not come, beyond the skew.
	ErrExpired = errors.New("token expired or not yet valid")
	// ErrAudience: aud names none of the vault's resources.
	ErrAudience = errors.New("invalid token audience")
	// ErrIssuer: iss is not the configured issuer.
	ErrIssuer = errors.New("invalid token issuer")
	// ErrTenant: tid is not the vault's tenant.
	ErrTenant = errors.New("invalid token tenant")
	// ErrNoPrincipal: the token has no oid.
	ErrNoPrincipal = errors.New("token names no principal")
	// ErrUnavailable: the issuer's keys could not be obtained. Its message
	// names the key source's failure (such as the JWKS URL) and is meant for
	// logs; answer the caller with a generic message.
	ErrUnavailable = errors.New("token signing keys unavailable")
)

// Options configures a Validator.
type Options struct {
	// Issuer is the exact iss claim accepted, e.g.
	// "https://sts.windows.net/<tenant>/" (identity.IssuerURL).
	Issuer string
	// Tenant is the tenant ID the tid claim must equal (compared
	// case-insensitively, as GUIDs are); the tenant of the challenge.
	Tenant string
	// Resources are the accepted audience bases, such as
	// "https://vault.tegata.example". For each, aud may be the resource, the
	// resource with a trailing slash, or the resource + "/.default"; a
	// resource configured with a trailing slash is treated as without one.
	Resources []string
	// Keys supplies the issuer's signing keys.
	Keys KeySource
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// Skew is the clock skew allowed on exp and nbf; 0 means DefaultSkew.
	Skew time.Duration
	// CacheSize bounds the number of cached validations; 0 means
	// DefaultCacheSize and a negative value disables the cache.
	CacheSize int
}

// Principal is the caller a valid token names.
type Principal struct {
	ObjectID string    // oid: the caller, whom role assignments name
	TenantID string    // tid
	AppID    string    // appid, or azp when appid is absent; for logs
	Expires  time.Time // exp
}

// Validator validates bearer tokens. It is safe for concurrent use.
type Validator struct {
	issuer    string
	tenant    string
	audiences map[string]bool
	expected  string // the resources, for messages
	keys      KeySource
	clock     func() time.Time
	skew      time.Duration
	cache     *cache // nil when disabled
	index     atomic.Pointer[keyIndex]
}

// NewValidator checks o and returns a Validator.
func NewValidator(o Options) (*Validator, error) {
	switch {
	case strings.TrimSpace(o.Issuer) == "":
		return nil, errors.New("auth: Options.Issuer is empty; set the exact iss of the issuer's tokens, e.g. https://sts.windows.net/<tenant>/")
	case strings.TrimSpace(o.Tenant) == "":
		return nil, errors.New("auth: Options.Tenant is empty; set the tenant ID that tokens' tid must carry")
	case len(o.Resources) == 0:
		return nil, errors.New("auth: Options.Resources is empty; set the vault resource, e.g. https://vault.tegata.example")
	case o.Keys == nil:
		return nil, errors.New("auth: Options.Keys is nil; use StaticKeys, FuncKeys or RemoteKeys")
	case o.Skew < 0:
		return nil, fmt.Errorf("auth: Options.Skew is negative (%s)", o.Skew)
	}
	v := &Validator{
		issuer:    o.Issuer,
		tenant:    o.Tenant,
		audiences: make(map[string]bool),
		keys:      o.Keys,
		clock:     o.Clock,
		skew:      o.Skew,
	}
	var bases []string
	for i, r := range o.Resources {
		base := strings.TrimRight(r, "/")
		if base == "" || strings.ContainsAny(base, " \t\r\n") {
			return nil, fmt.Errorf("auth: Options.Resources[%d] = %q is not a resource URI", i, r)
		}
		bases = append(bases, base)
		v.audiences[base] = true
		v.audiences[base+"/"] = true
		v.audiences[base+"/.default"] = true
	}
	v.expected = strings.Join(bases, " or ")
	if v.clock == nil {
		v.clock = time.Now
	}
	if v.skew == 0 {
		v.skew = DefaultSkew
	}
	switch {
	case o.CacheSize == 0:
		v.cache = newCache(DefaultCacheSize)
	case o.CacheSize > 0:
		v.cache = newCache(o.CacheSize)
	}
	return v, nil
}

// claims are the members of a token's claims set that Validate reads.
type claims struct {
	Issuer    string           `json:"iss"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	TenantID  string           `json:"tid"`
	ObjectID  string           `json:"oid"`
	AppID     string           `json:"appid"`
	AZP       string           `json:"azp"`
}

// Validate checks token (the bearer token, without "Bearer ") and returns the
// principal it names. Its errors wrap ErrMalformed, ErrSignature, ErrExpired,
// ErrAudience, ErrIssuer, ErrTenant, ErrNoPrincipal or ErrUnavailable.
//
// A token that validated before is answered from the cache, until the earlier
// of its exp and 5 minutes after it was cached, with exp and nbf checked again
// against the clock. Failures are never cached.
func (v *Validator) Validate(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, fmt.Errorf("%w: the token is empty", ErrMalformed)
	}
	if len(token) > MaxTokenSize {
		return Principal{}, fmt.Errorf("%w: the token is larger than %d bytes", ErrMalformed, MaxTokenSize)
	}
	now := v.clock()
	var key [sha256.Size]byte
	if v.cache != nil {
		// Sum256 only reads its argument; viewing the string's bytes saves a copy.
		key = sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
		if e, ok := v.cache.get(key, now); ok {
			if err := v.checkTime(e.p.Expires, e.nbf, now); err != nil {
				return Principal{}, err
			}
			return e.p, nil
		}
	}
	p, nbf, err := v.verify(ctx, token, now)
	if err != nil {
		return Principal{}, err
	}
	if v.cache != nil {
		until := now.Add(cacheFor)
		if p.Expires.Before(until) {
			until = p.Expires
		}
		if now.Before(until) {
			v.cache.put(key, cacheEntry{p: p, nbf: nbf, until: until}, now)
		}
	}
	return p, nil
}

// verify checks the signature and claims of token at now and returns its
// principal and nbf (zero when absent).
func (v *Validator) verify(ctx context.Context, token string, now time.Time) (Principal, time.Time, error) {
	if strings.Count(token, ".") != 2 {
		return Principal{}, time.Time{}, fmt.Errorf("%w: the token is not a compact JWS (three base64url parts separated by dots)", ErrMalformed)
	}
	tok, err := jwt.ParseSigned(token, SignatureAlgorithms)
	if err != nil {
		var alg *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &alg) {
			return Principal{}, time.Time{}, fmt.Errorf("%w: the token's algorithm %s is not accepted (accepted: %s)", ErrSignature, clip(string(alg.Got)), algorithmList())
		}
		return Principal{}, time.Time{}, fmt.Errorf("%w: the token is not a signed JWT (bad base64url or header JSON)", ErrMalformed)
	}
	h := tok.Headers[0]
	keys, err := v.candidates(ctx, h.KeyID, jose.SignatureAlgorithm(h.Algorithm))
	if err != nil {
		return Principal{}, time.Time{}, err
	}
	verified := false
	for _, k := range keys {
		if tok.Claims(k) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return Principal{}, time.Time{}, fmt.Errorf("%w: the signature does not verify with the issuer's key %s", ErrSignature, describeKid(h.KeyID))
	}
	var c claims
	// The signature verified above covers exactly this payload.
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return Principal{}, time.Time{}, fmt.Errorf("%w: the claims are not a JSON object with the expected member types", ErrMalformed)
	}
	if c.Issuer != v.issuer {
		return Principal{}, time.Time{}, fmt.Errorf("%w: Invalid issuer. Expected %s, found: %s.", ErrIssuer, v.issuer, orNone(clip(c.Issuer)))
	}
	if !v.audienceOK(c.Audience) {
		return Principal{}, time.Time{}, fmt.Errorf("%w: AKV10022: Invalid audience. Expected %s, found: %s.", ErrAudience, v.expected, orNone(clip(strings.Join(c.Audience, ","))))
	}
	if !strings.EqualFold(c.TenantID, v.tenant) {
		return Principal{}, time.Time{}, fmt.Errorf("%w: the token's tenant (tid) is %s; this vault accepts tenant %s", ErrTenant, orNone(clip(c.TenantID)), v.tenant)
	}
	if c.Expiry == nil {
		return Principal{}, time.Time{}, fmt.Errorf("%w: the token has no exp claim", ErrMalformed)
	}
	exp, nbf := c.Expiry.Time(), c.NotBefore.Time()
	if err := v.checkTime(exp, nbf, now); err != nil {
		return Principal{}, time.Time{}, err
	}
	if c.ObjectID == "" {
		return Principal{}, time.Time{}, fmt.Errorf("%w: the token has no oid claim (the caller's object ID, which role assignments name)", ErrNoPrincipal)
	}
	app := c.AppID
	if app == "" {
		app = c.AZP
	}
	return Principal{ObjectID: c.ObjectID, TenantID: c.TenantID, AppID: app, Expires: exp}, nbf, nil
}

// checkTime checks exp and nbf (zero when absent) at now, allowing the skew.
func (v *Validator) checkTime(exp, nbf, now time.Time) error {
	if !now.Before(exp.Add(v.skew)) {
		return fmt.Errorf("%w: the token expired at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	if !nbf.IsZero() && now.Add(v.skew).Before(nbf) {
		return fmt.Errorf("%w: the token is not valid before %s", ErrExpired, nbf.UTC().Format(time.RFC3339))
	}
	return nil
}

func (v *Validator) audienceOK(aud jwt.Audience) bool {
	for _, a := range aud {
		if v.audiences[a] {
			return true
		}
	}
	return false
}

// candidates returns the issuer's keys that may have signed a token with kid
// and alg: those with that kid, refreshing the source once if there are none;
// or, for a token without kid, the issuer's only key.
func (v *Validator) candidates(ctx context.Context, kid string, alg jose.SignatureAlgorithm) ([]any, error) {
	idx, err := v.keyIndex(ctx, false)
	if err != nil {
		return nil, err
	}
	var keys []any
	if kid == "" {
		if len(idx.usable) != 1 {
			return nil, fmt.Errorf("%w: the token names no signing key (kid) and the issuer has %d keys", ErrSignature, len(idx.usable))
		}
		keys = idx.usable
	} else {
		keys = idx.byKid[kid]
		if len(keys) == 0 {
			if _, ok := v.keys.(Refresher); ok {
				if idx, err = v.keyIndex(ctx, true); err != nil {
					return nil, err
				}
				keys = idx.byKid[kid]
			}
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("%w: the token's signing key %s is not one of the issuer's keys", ErrSignature, describeKid(kid))
		}
	}
	var fit []any
	for _, k := range keys {
		if keyFits(alg, k) {
			fit = append(fit, k)
		}
	}
	if len(fit) == 0 {
		return nil, fmt.Errorf("%w: the issuer's key %s cannot verify %s signatures", ErrSignature, describeKid(kid), clip(string(alg)))
	}
	return fit, nil
}

// keyIndex returns the index of the source's current set (after Refresh when
// refresh is set), rebuilding it only when the source returns a new set.
func (v *Validator) keyIndex(ctx context.Context, refresh bool) (*keyIndex, error) {
	var set *jose.JSONWebKeySet
	var err error
	if r, ok := v.keys.(Refresher); ok && refresh {
		set, err = r.Refresh(ctx)
	} else {
		set, err = v.keys.Keys(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if set == nil {
		return nil, fmt.Errorf("%w: the key source returned no key set", ErrUnavailable)
	}
	if idx := v.index.Load(); idx != nil && idx.set == set {
		return idx, nil
	}
	idx := newKeyIndex(set)
	v.index.Store(idx)
	return idx, nil
}

func algorithmList() string {
	s := make([]string, len(SignatureAlgorithms))
	for i, a := range SignatureAlgorithms {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

func describeKid(kid string) string {
	if kid == "" {
		return "(no kid)"
	}
	return "kid " + clip(kid)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// clip makes a value taken from a token fit for a message: at most 200 bytes,
// control characters replaced.
func clip(s string) string {
	const max = 200
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
