package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	testTenant   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	testIssuer   = "https://sts.windows.net/" + testTenant + "/"
	testResource = "https://vault.tegata.example"
	testOID      = "5b1f0a2e-5c8f-4a51-9d61-1f1e0f6a9b01"
	testAppID    = "0e7d5a0c-7a34-4f6e-8c1e-2b9f5b3c1d22"
	testKid      = "key-1"
)

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

var (
	keysOnce           sync.Once
	testKey, otherKey  *rsa.PrivateKey
	thirdKey, smallKey *rsa.PrivateKey
)

// keys returns RSA keys generated once per test binary: the issuer's, another
// one (for forgeries and rotations), a third, and a 1024-bit one.
func keys(tb testing.TB) (issuer, other, third, small *rsa.PrivateKey) {
	tb.Helper()
	keysOnce.Do(func() {
		gen := func(bits int) *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			return k
		}
		testKey, otherKey, thirdKey, smallKey = gen(2048), gen(2048), gen(2048), gen(1024)
	})
	return testKey, otherKey, thirdKey, smallKey
}

// publicJWK is the JWKS entry of k's public key, as identity.Issuer.JWKS writes it.
func publicJWK(k *rsa.PrivateKey, kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Public(), KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"}
}

func jwksJSON(tb testing.TB, keys ...jose.JSONWebKey) []byte {
	tb.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// baseClaims are the claims of a valid token at testNow, as tegata's issuer
// writes them; tests change or delete members.
func baseClaims() map[string]any {
	return map[string]any{
		"aud": testResource, "iss": testIssuer,
		"iat": testNow.Add(-time.Minute).Unix(), "nbf": testNow.Add(-6 * time.Minute).Unix(),
		"exp": testNow.Add(time.Hour).Unix(),
		"tid": testTenant, "oid": testOID, "sub": testOID, "appid": testAppID, "azp": testAppID,
		"idtyp": "app", "ver": "1.0",
	}
}

// sign makes a compact JWS of claims with key (any go-jose signing key), alg and
// kid ("" for none).
func sign(tb testing.TB, key any, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	tb.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// unsigned makes an "alg":"none" token.
func unsigned(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": testKid})
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// clock is a settable time source.
type clock struct{ t atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) set(t time.Time)         { c.t.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration) { c.t.Add(int64(d)) }

// countingKeys is a KeySource that counts its calls.
type countingKeys struct {
	KeySource
	calls atomic.Int64
}

func (c *countingKeys) Keys(ctx context.Context) (*jose.JSONWebKeySet, error) {
	c.calls.Add(1)
	return c.KeySource.Keys(ctx)
}

// newValidator returns a Validator of the test issuer trusting testKey as
// testKid, at a clock set to testNow; edit adjusts the options.
func newValidator(tb testing.TB, edit func(*Options)) (*Validator, *clock) {
	tb.Helper()
	k, _, _, _ := keys(tb)
	c := newClock(testNow)
	o := Options{
		Issuer:    testIssuer,
		Tenant:    testTenant,
		Resources: []string{testResource},
		Keys:      StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{publicJWK(k, testKid)}}),
		Clock:     c.now,
	}
	if edit != nil {
		edit(&o)
	}
	v, err := NewValidator(o)
	if err != nil {
		tb.Fatal(err)
	}
	return v, c
}
