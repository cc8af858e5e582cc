// Package identity issues managed-identity tokens for the metadata service: it picks
// the identity a token request names (system- or user-assigned, docs/imds.md §4.4.2),
// mints an RS256 JWT with the claims Entra ID puts in managed-identity tokens, answers
// in IMDS's all-string JSON, caches per identity and resource as IMDS does, and
// publishes the signing keys (JWKS) and OpenID discovery so resources can validate.
package identity

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tegata-project/tegata/internal/instance"
	"github.com/tegata-project/tegata/internal/pki"
)

// Selection errors, which the metadata service answers with Azure's bodies.
var (
	// ErrNotFound: no identity, or none matching the selector (I2).
	ErrNotFound = errors.New("identity not found")
	// ErrMultiple: several user-assigned identities, no system-assigned one, and no
	// selector (I3).
	ErrMultiple = errors.New("multiple user assigned identities and no selector")
)

// Selector is what a token request names: at most one of the three.
type Selector struct {
	ClientID, ObjectID, ResourceID string
}

// Principal is one managed identity of a VM.
type Principal struct {
	ClientID, ObjectID, TenantID string
	// ResourceID is the ARM ID the token's xms_mirid claim carries: the VM's for the
	// system-assigned identity, the identity's own for a user-assigned one.
	ResourceID string
	System     bool
}

// Select picks the identity of in that sel names, per docs/imds.md §4.4.2. With no
// selector: the system-assigned identity, else the only user-assigned one.
func Select(in *instance.Instance, sel Selector) (Principal, error) {
	id := &in.Identity
	tenant := id.SystemAssigned.TenantID
	if tenant == "" {
		tenant = instance.DefaultTenantID
	}
	var all []Principal
	if id.SystemAssigned.Enabled {
		all = append(all, Principal{ClientID: id.SystemAssigned.ClientID, ObjectID: id.SystemAssigned.ObjectID, TenantID: tenant, ResourceID: in.Compute.ResourceID, System: true})
	}
	for _, u := range id.UserAssigned {
		all = append(all, Principal{ClientID: u.ClientID, ObjectID: u.ObjectID, TenantID: tenant, ResourceID: u.ResourceID})
	}
	if sel != (Selector{}) {
		for _, p := range all {
			if sel.ClientID != "" && strings.EqualFold(sel.ClientID, p.ClientID) ||
				sel.ObjectID != "" && strings.EqualFold(sel.ObjectID, p.ObjectID) ||
				sel.ResourceID != "" && strings.EqualFold(sel.ResourceID, p.ResourceID) && !p.System {
				return p, nil
			}
		}
		return Principal{}, ErrNotFound
	}
	switch {
	case id.SystemAssigned.Enabled:
		return all[0], nil
	case len(all) == 1:
		return all[0], nil
	case len(all) > 1:
		return Principal{}, ErrMultiple
	}
	return Principal{}, ErrNotFound
}

// Options sets how tokens are made.
type Options struct {
	// Lifetime of a token; managed-identity tokens live about 24 hours.
	Lifetime time.Duration
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
}

// signingKeyName is the issuer's key in the key store.
const signingKeyName = "identity-signing-01"

// Issuer mints tokens. It is safe for concurrent use.
type Issuer struct {
	key    *rsa.PrivateKey
	kid    string
	signer jose.Signer
	opts   Options

	mu    sync.Mutex
	cache map[cacheKey]cachedToken
}

type cacheKey struct{ clientID, resource string }

type cachedToken struct {
	jwt       string
	notBefore time.Time
	expires   time.Time
}

// maxCachedTokens bounds the cache; past it, it starts afresh.
const maxCachedTokens = 100_000

// Open loads the issuer's RSA signing key from keys, or generates and stores it on
// first use, so tokens stay valid across restarts.
func Open(keys *pki.Keys, opts Options) (*Issuer, error) {
	if opts.Lifetime <= 0 {
		opts.Lifetime = 24 * time.Hour
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	k, ok, err := keys.Load(signingKeyName)
	if err != nil {
		return nil, fmt.Errorf("identity signing key: %w", err)
	}
	if !ok {
		if k, err = pki.Generate("rsa-2048"); err != nil {
			return nil, err
		}
		if err := keys.Save(signingKeyName, k); err != nil {
			return nil, fmt.Errorf("identity signing key: %w", err)
		}
	}
	rk, isRSA := k.(*rsa.PrivateKey)
	if !isRSA {
		return nil, fmt.Errorf("identity signing key %s is not RSA; delete it to generate a new one", signingKeyName)
	}
	return newIssuer(rk, opts)
}

func newIssuer(key *rsa.PrivateKey, opts Options) (*Issuer, error) {
	thumb, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	kid := base64.RawURLEncoding.EncodeToString(thumb)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, err
	}
	return &Issuer{key: key, kid: kid, signer: signer, opts: opts, cache: make(map[cacheKey]cachedToken)}, nil
}

// IssuerURL is the iss claim of tokens for tenant, as Entra ID writes it for
// managed identities.
func IssuerURL(tenant string) string { return "https://sts.windows.net/" + tenant + "/" }

// Token returns the body of /metadata/identity/oauth2/token for p and resource (the
// audience, exactly as requested), from the cache unless bypass is set.
func (i *Issuer) Token(in *instance.Instance, p Principal, resource string, bypass bool) ([]byte, error) {
	now := i.opts.Clock()
	key := cacheKey{p.ClientID, resource}
	i.mu.Lock()
	c, ok := i.cache[key]
	i.mu.Unlock()
	// A cached token is served while it has more than 5 minutes left, with its
	// expires_in counting down, as IMDS does.
	if !ok || bypass || c.expires.Sub(now) < 5*time.Minute {
		iat := now.Truncate(time.Second)
		c = cachedToken{notBefore: iat.Add(-5 * time.Minute), expires: iat.Add(i.opts.Lifetime)}
		claims := map[string]any{
			"aud": resource, "iss": IssuerURL(p.TenantID), "iat": iat.Unix(), "nbf": c.notBefore.Unix(), "exp": c.expires.Unix(),
			"tid": p.TenantID, "oid": p.ObjectID, "sub": p.ObjectID, "appid": p.ClientID, "azp": p.ClientID,
			"idtyp": "app", "xms_mirid": p.ResourceID, "uti": tokenID(), "ver": "1.0",
		}
		jws, err := jwt.Signed(i.signer).Claims(claims).Serialize()
		if err != nil {
			return nil, fmt.Errorf("signing a token: %w", err)
		}
		c.jwt = jws
		i.mu.Lock()
		if len(i.cache) >= maxCachedTokens {
			i.cache = make(map[cacheKey]cachedToken)
		}
		i.cache[key] = c
		i.mu.Unlock()
	}
	return marshalResponse(c, p.ClientID, resource, now, i.opts.Lifetime)
}

// tokenID is a token's unique identifier (the uti claim), random like Entra ID's, so
// two tokens minted in the same second differ.
func tokenID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// marshalResponse writes IMDS's token response: compact, keys in byte order, every
// value a string (strict clients reject numbers).
func marshalResponse(c cachedToken, clientID, resource string, now time.Time, lifetime time.Duration) ([]byte, error) {
	return json.Marshal(struct {
		AccessToken  string `json:"access_token"`
		ClientID     string `json:"client_id"`
		ExpiresIn    string `json:"expires_in"`
		ExpiresOn    string `json:"expires_on"`
		ExtExpiresIn string `json:"ext_expires_in"`
		NotBefore    string `json:"not_before"`
		Resource     string `json:"resource"`
		TokenType    string `json:"token_type"`
	}{
		AccessToken:  c.jwt,
		ClientID:     clientID,
		ExpiresIn:    strconv.FormatInt(int64(c.expires.Sub(now).Seconds()), 10),
		ExpiresOn:    strconv.FormatInt(c.expires.Unix(), 10),
		ExtExpiresIn: strconv.FormatInt(int64(lifetime.Seconds()), 10),
		NotBefore:    strconv.FormatInt(c.notBefore.Unix(), 10),
		Resource:     resource,
		TokenType:    "Bearer",
	})
}

// JWKS is the issuer's public key set.
func (i *Issuer) JWKS() []byte {
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: i.key.Public(), KeyID: i.kid, Algorithm: string(jose.RS256), Use: "sig"}}})
	return b
}

// Discovery is the OpenID configuration for tenant, pointing at jwksURI.
func (i *Issuer) Discovery(tenant, jwksURI string) []byte {
	b, _ := json.Marshal(map[string]any{
		"issuer":                                IssuerURL(tenant),
		"jwks_uri":                              jwksURI,
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"token"},
		"subject_types_supported":               []string{"pairwise"},
		"token_endpoint":                        "http://169.254.169.254/metadata/identity/oauth2/token",
	})
	return b
}
