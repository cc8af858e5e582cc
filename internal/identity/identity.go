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
	"io/fs"
	"os"
	"path/filepath"
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
	// Rotation is how long a signing key signs before the next one takes over; the old
	// key stays in the JWKS until the last token it signed has expired. Default 30 days.
	Rotation time.Duration
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
}

// Issuer mints tokens. It is safe for concurrent use.
type Issuer struct {
	keys  *pki.Keys
	state string // path of the key list
	opts  Options

	mu      sync.Mutex
	signing []*signingKey // oldest first; the last one signs
	cache   map[cacheKey]cachedToken
}

// signingKey is one of the issuer's RSA keys.
type signingKey struct {
	name    string
	created time.Time
	key     *rsa.PrivateKey
	kid     string
	signer  jose.Signer
}

// keyRecord is how keys.json lists a key (no secret in it: the keys are in the store).
type keyRecord struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

type cacheKey struct{ clientID, resource string }

type cachedToken struct {
	jwt       string
	notBefore time.Time
	expires   time.Time
}

// maxCachedTokens bounds the cache; past it, it starts afresh.
const maxCachedTokens = 100_000

// Open loads the issuer's signing keys from keys (their list in dir/keys.json), or
// creates the first on first use, so tokens stay valid across restarts.
func Open(keys *pki.Keys, dir string, opts Options) (*Issuer, error) {
	if opts.Lifetime <= 0 {
		opts.Lifetime = 24 * time.Hour
	}
	if opts.Rotation <= 0 {
		opts.Rotation = 30 * 24 * time.Hour
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	i := &Issuer{keys: keys, state: filepath.Join(dir, "keys.json"), opts: opts, cache: make(map[cacheKey]cachedToken)}
	data, err := os.ReadFile(i.state)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := i.addKey(opts.Clock()); err != nil {
			return nil, err
		}
		return i, nil
	case err != nil:
		return nil, fmt.Errorf("identity keys: %w", err)
	}
	var recs []keyRecord
	if err := json.Unmarshal(data, &recs); err != nil || len(recs) == 0 {
		return nil, fmt.Errorf("identity keys: %s is not a key list; restore it from backup", i.state)
	}
	for _, r := range recs {
		k, ok, err := keys.Load(r.Name)
		if err != nil || !ok {
			return nil, fmt.Errorf("identity signing key %s listed in %s: missing or unreadable (%v); restore it from backup", r.Name, i.state, err)
		}
		sk, err := newSigningKey(r.Name, r.Created, k)
		if err != nil {
			return nil, err
		}
		i.signing = append(i.signing, sk)
	}
	return i, nil
}

// addKey creates the next signing key at now, stores it, then records it.
func (i *Issuer) addKey(now time.Time) error {
	name := fmt.Sprintf("identity-signing-%02d", len(i.signing)+1)
	k, err := pki.Generate("rsa-2048")
	if err != nil {
		return err
	}
	if err := i.keys.Save(name, k); err != nil {
		return fmt.Errorf("identity signing key: %w", err)
	}
	sk, err := newSigningKey(name, now, k)
	if err != nil {
		return err
	}
	recs := make([]keyRecord, 0, len(i.signing)+1)
	for _, s := range append(i.signing, sk) {
		recs = append(recs, keyRecord{s.name, s.created})
	}
	data, _ := json.MarshalIndent(recs, "", "  ")
	tmp := i.state + ".tmp"
	if err := os.MkdirAll(filepath.Dir(i.state), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("identity keys: %w", err)
	}
	if err := os.Rename(tmp, i.state); err != nil {
		return fmt.Errorf("identity keys: %w", err)
	}
	i.signing = append(i.signing, sk)
	return nil
}

func newSigningKey(name string, created time.Time, k crypto.Signer) (*signingKey, error) {
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("identity signing key %s is not RSA", name)
	}
	thumb, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	kid := base64.RawURLEncoding.EncodeToString(thumb)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, err
	}
	return &signingKey{name: name, created: created, key: key, kid: kid, signer: signer}, nil
}

// current returns the key that signs at now, rotating first when it is due. Callers
// hold i.mu.
func (i *Issuer) current(now time.Time) (*signingKey, error) {
	cur := i.signing[len(i.signing)-1]
	if now.Sub(cur.created) >= i.opts.Rotation {
		if err := i.addKey(now); err != nil {
			return nil, err
		}
		cur = i.signing[len(i.signing)-1]
	}
	return cur, nil
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
	defer i.mu.Unlock()
	c, ok := i.cache[key]
	// A cached token is served while it has more than 5 minutes left, with its
	// expires_in counting down, as IMDS does.
	if !ok || bypass || c.expires.Sub(now) < 5*time.Minute {
		sk, err := i.current(now)
		if err != nil {
			return nil, err
		}
		iat := now.Truncate(time.Second)
		c = cachedToken{notBefore: iat.Add(-5 * time.Minute), expires: iat.Add(i.opts.Lifetime)}
		claims := map[string]any{
			"aud": resource, "iss": IssuerURL(p.TenantID), "iat": iat.Unix(), "nbf": c.notBefore.Unix(), "exp": c.expires.Unix(),
			"tid": p.TenantID, "oid": p.ObjectID, "sub": p.ObjectID, "appid": p.ClientID, "azp": p.ClientID,
			"idtyp": "app", "xms_mirid": p.ResourceID, "uti": tokenID(), "ver": "1.0",
		}
		jws, err := jwt.Signed(sk.signer).Claims(claims).Serialize()
		if err != nil {
			return nil, fmt.Errorf("signing a token: %w", err)
		}
		c.jwt = jws
		if len(i.cache) >= maxCachedTokens {
			i.cache = make(map[cacheKey]cachedToken)
		}
		i.cache[key] = c
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

// JWKS is the issuer's public key set: the signing key, and every earlier key until the
// last token it can have signed has expired.
func (i *Issuer) JWKS() []byte {
	now := i.opts.Clock()
	i.mu.Lock()
	defer i.mu.Unlock()
	var set jose.JSONWebKeySet
	for n, sk := range i.signing {
		if n+1 < len(i.signing) && now.After(i.signing[n+1].created.Add(i.opts.Lifetime)) {
			continue // retired, and every token it signed has expired
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: sk.key.Public(), KeyID: sk.kid, Algorithm: string(jose.RS256), Use: "sig"})
	}
	b, _ := json.Marshal(set)
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
