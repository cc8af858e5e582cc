package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// sentinels are every error Validate may wrap.
var sentinels = []error{ErrMalformed, ErrSignature, ErrExpired, ErrAudience, ErrIssuer, ErrTenant, ErrNoPrincipal, ErrUnavailable}

func TestValidateClaims(t *testing.T) {
	key, _, _, _ := keys(t)
	tests := []struct {
		name    string
		claims  func(map[string]any)
		opts    func(*Options)
		want    error  // nil: valid
		message string // a substring of the error
	}{
		{name: "valid"},
		{name: "aud with trailing slash", claims: func(c map[string]any) { c["aud"] = testResource + "/" }},
		{name: "aud with /.default", claims: func(c map[string]any) { c["aud"] = testResource + "/.default" }},
		{name: "aud array containing the resource", claims: func(c map[string]any) { c["aud"] = []string{"https://other.example", testResource} }},
		{name: "resource configured with trailing slash", opts: func(o *Options) { o.Resources = []string{testResource + "/"} }},
		{name: "resource configured with trailing slash, aud /.default", claims: func(c map[string]any) { c["aud"] = testResource + "/.default" }, opts: func(o *Options) { o.Resources = []string{testResource + "/"} }},
		{name: "second configured resource", claims: func(c map[string]any) { c["aud"] = "https://vault.azure.net" }, opts: func(o *Options) { o.Resources = []string{testResource, "https://vault.azure.net"} }},
		{name: "wrong aud", claims: func(c map[string]any) { c["aud"] = "https://management.azure.com" }, want: ErrAudience, message: "AKV10022: Invalid audience. Expected https://vault.tegata.example, found: https://management.azure.com."},
		{name: "aud array without the resource", claims: func(c map[string]any) { c["aud"] = []string{"a", "b"} }, want: ErrAudience, message: "found: a,b."},
		{name: "aud a prefix of the resource", claims: func(c map[string]any) { c["aud"] = "https://vault.tegata" }, want: ErrAudience},
		{name: "aud extending the resource", claims: func(c map[string]any) { c["aud"] = testResource + ".evil.example" }, want: ErrAudience},
		{name: "aud double slash", claims: func(c map[string]any) { c["aud"] = testResource + "//" }, want: ErrAudience},
		{name: "no aud", claims: func(c map[string]any) { delete(c, "aud") }, want: ErrAudience, message: "found: (none)."},
		{name: "wrong iss", claims: func(c map[string]any) { c["iss"] = "https://sts.windows.net/other/" }, want: ErrIssuer, message: "found: https://sts.windows.net/other/."},
		{name: "iss without trailing slash", claims: func(c map[string]any) { c["iss"] = strings.TrimSuffix(testIssuer, "/") }, want: ErrIssuer},
		{name: "no iss", claims: func(c map[string]any) { delete(c, "iss") }, want: ErrIssuer},
		{name: "wrong tid", claims: func(c map[string]any) { c["tid"] = "00000000-0000-0000-0000-000000000000" }, want: ErrTenant, message: "00000000-0000-0000-0000-000000000000"},
		{name: "no tid", claims: func(c map[string]any) { delete(c, "tid") }, want: ErrTenant},
		{name: "tid in upper case", claims: func(c map[string]any) { c["tid"] = strings.ToUpper(testTenant) }},
		{name: "no oid", claims: func(c map[string]any) { delete(c, "oid") }, want: ErrNoPrincipal, message: "no oid"},
		{name: "empty oid", claims: func(c map[string]any) { c["oid"] = "" }, want: ErrNoPrincipal},
		{name: "expired", claims: func(c map[string]any) { c["exp"] = testNow.Add(-6 * time.Minute).Unix() }, want: ErrExpired, message: "expired at 2026-05-01T11:54:00Z"},
		{name: "expired within skew", claims: func(c map[string]any) { c["exp"] = testNow.Add(-4 * time.Minute).Unix() }},
		{name: "expired exactly at the skew", claims: func(c map[string]any) { c["exp"] = testNow.Add(-5 * time.Minute).Unix() }, want: ErrExpired},
		{name: "expired with zero-skew-like option", claims: func(c map[string]any) { c["exp"] = testNow.Add(-2 * time.Second).Unix() }, opts: func(o *Options) { o.Skew = time.Second }, want: ErrExpired},
		{name: "nbf in the future", claims: func(c map[string]any) { c["nbf"] = testNow.Add(6 * time.Minute).Unix() }, want: ErrExpired, message: "not valid before 2026-05-01T12:06:00Z"},
		{name: "nbf in the future within skew", claims: func(c map[string]any) { c["nbf"] = testNow.Add(4 * time.Minute).Unix() }},
		{name: "no nbf", claims: func(c map[string]any) { delete(c, "nbf") }},
		{name: "no exp", claims: func(c map[string]any) { delete(c, "exp") }, want: ErrMalformed, message: "no exp"},
		{name: "exp far beyond int64 seconds", claims: func(c map[string]any) { c["exp"] = 1e300 }, want: ErrMalformed},
		{name: "tid of the wrong type", claims: func(c map[string]any) { c["tid"] = 5 }, want: ErrMalformed},
		{name: "exp of the wrong type", claims: func(c map[string]any) { c["exp"] = "tomorrow" }, want: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := newValidator(t, tc.opts)
			c := baseClaims()
			if tc.claims != nil {
				tc.claims(c)
			}
			p, err := v.Validate(context.Background(), sign(t, key, jose.RS256, testKid, c))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if p.ObjectID != testOID || p.AppID != testAppID {
					t.Errorf("principal = %+v", p)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate error = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q lacks %q", err, tc.message)
			}
		})
	}
}

func TestValidatePrincipal(t *testing.T) {
	key, _, _, _ := keys(t)
	v, _ := newValidator(t, nil)
	c := baseClaims()
	delete(c, "appid")
	c["azp"] = "azp-client"
	p, err := v.Validate(context.Background(), sign(t, key, jose.RS256, testKid, c))
	if err != nil {
		t.Fatal(err)
	}
	want := Principal{ObjectID: testOID, TenantID: testTenant, AppID: "azp-client", Expires: testNow.Add(time.Hour)}
	if p.ObjectID != want.ObjectID || p.TenantID != want.TenantID || p.AppID != want.AppID || !p.Expires.Equal(want.Expires) {
		t.Errorf("principal = %+v, want %+v", p, want)
	}
}

func TestValidateSignature(t *testing.T) {
	key, other, _, small := keys(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	twoKeys := func(o *Options) {
		o.Keys = StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{publicJWK(key, testKid), publicJWK(other, "key-2")}})
	}
	withEC := func(o *Options) {
		o.Keys = StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			publicJWK(key, testKid), {Key: ecKey.Public(), KeyID: "ec", Use: "sig"},
		}})
	}
	tests := []struct {
		name    string
		token   func() string
		opts    func(*Options)
		want    error
		message string
	}{
		{name: "kid names the key", token: func() string { return sign(t, key, jose.RS256, testKid, baseClaims()) }},
		{name: "no kid, one key", token: func() string { return sign(t, key, jose.RS256, "", baseClaims()) }},
		{name: "second key of two", opts: twoKeys, token: func() string { return sign(t, other, jose.RS256, "key-2", baseClaims()) }},
		{name: "no kid, two keys", opts: twoKeys, token: func() string { return sign(t, key, jose.RS256, "", baseClaims()) }, want: ErrSignature, message: "no signing key (kid) and the issuer has 2 keys"},
		{name: "unknown kid", token: func() string { return sign(t, key, jose.RS256, "key-9", baseClaims()) }, want: ErrSignature, message: "kid key-9 is not one of the issuer's keys"},
		{name: "forged: other key, same kid", token: func() string { return sign(t, other, jose.RS256, testKid, baseClaims()) }, want: ErrSignature, message: "does not verify"},
		{name: "signed by the key of another kid", opts: twoKeys, token: func() string { return sign(t, key, jose.RS256, "key-2", baseClaims()) }, want: ErrSignature},
		{name: "tampered payload", token: func() string {
			tok := sign(t, key, jose.RS256, testKid, baseClaims())
			c := baseClaims()
			c["oid"] = "someone-else"
			forged := sign(t, other, jose.RS256, testKid, c)
			parts, fparts := strings.Split(tok, "."), strings.Split(forged, ".")
			return parts[0] + "." + fparts[1] + "." + parts[2]
		}, want: ErrSignature},
		{name: "alg none", token: func() string { return unsigned(baseClaims()) }, want: ErrSignature, message: "algorithm none is not accepted (accepted: RS256)"},
		{name: "HS256 with the public key as secret", token: func() string { return sign(t, pubDER, jose.HS256, testKid, baseClaims()) }, want: ErrSignature, message: "algorithm HS256 is not accepted"},
		{name: "ES256 with a key in the set", opts: withEC, token: func() string { return sign(t, ecKey, jose.ES256, "ec", baseClaims()) }, want: ErrSignature, message: "ES256 is not accepted"},
		{name: "PS256", token: func() string { return sign(t, key, jose.PS256, testKid, baseClaims()) }, want: ErrSignature, message: "PS256 is not accepted"},
		{name: "RSA key below 2048 bits", opts: func(o *Options) {
			o.Keys = StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{publicJWK(small, "small")}})
		}, token: func() string { return sign(t, small, jose.RS256, "small", baseClaims()) }, want: ErrSignature},
		{name: "key meant for encryption", opts: func(o *Options) {
			jwk := publicJWK(key, testKid)
			jwk.Use = "enc"
			o.Keys = StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
		}, token: func() string { return sign(t, key, jose.RS256, testKid, baseClaims()) }, want: ErrSignature},
		{name: "key for another algorithm", opts: func(o *Options) {
			jwk := publicJWK(key, testKid)
			jwk.Algorithm = string(jose.PS256)
			o.Keys = StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
		}, token: func() string { return sign(t, key, jose.RS256, testKid, baseClaims()) }, want: ErrSignature},
		{name: "empty", token: func() string { return "" }, want: ErrMalformed},
		{name: "garbage", token: func() string { return "not a token" }, want: ErrMalformed, message: "not a compact JWS"},
		{name: "three garbage parts", token: func() string { return "a.b.c" }, want: ErrMalformed},
		{name: "bad header JSON", token: func() string {
			return base64.RawURLEncoding.EncodeToString([]byte("{")) + ".e30.c2ln"
		}, want: ErrMalformed},
		{name: "JWE shape (five parts)", token: func() string { return "a.b.c.d.e" }, want: ErrMalformed},
		{name: "JWS JSON serialization", token: func() string { return `{"payload":"e30","signatures":[]}` }, want: ErrMalformed},
		{name: "claims not JSON", token: func() string {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", testKid))
			if err != nil {
				t.Fatal(err)
			}
			jws, err := s.Sign([]byte("not json"))
			if err != nil {
				t.Fatal(err)
			}
			out, _ := jws.CompactSerialize()
			return out
		}, want: ErrMalformed, message: "claims"},
		{name: "oversize", token: func() string {
			c := baseClaims()
			c["pad"] = strings.Repeat("x", MaxTokenSize)
			return sign(t, key, jose.RS256, testKid, c)
		}, want: ErrMalformed, message: "larger than 16384 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := newValidator(t, tc.opts)
			p, err := v.Validate(context.Background(), tc.token())
			if tc.want == nil {
				if err != nil || p.ObjectID != testOID {
					t.Fatalf("Validate = %+v, %v", p, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate error = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q lacks %q", err, tc.message)
			}
			if p != (Principal{}) {
				t.Errorf("principal %+v returned with an error", p)
			}
			// Messages go back to callers: no key material.
			n := base64.RawURLEncoding.EncodeToString(key.N.Bytes())
			if strings.Contains(err.Error(), n[:32]) {
				t.Errorf("error %q contains the key's modulus", err)
			}
		})
	}
}

func TestValidateTokenAtSizeLimit(t *testing.T) {
	key, _, _, _ := keys(t)
	v, _ := newValidator(t, nil)
	c := baseClaims()
	// Binary search the largest pad within the limit.
	lo, hi := 0, MaxTokenSize
	for lo+1 < hi {
		mid := (lo + hi) / 2
		c["pad"] = strings.Repeat("x", mid)
		if len(sign(t, key, jose.RS256, testKid, c)) <= MaxTokenSize {
			lo = mid
		} else {
			hi = mid
		}
	}
	c["pad"] = strings.Repeat("x", lo)
	tok := sign(t, key, jose.RS256, testKid, c)
	if len(tok) < MaxTokenSize-4 {
		t.Fatalf("the search found a token of %d bytes, not near the limit", len(tok))
	}
	if _, err := v.Validate(context.Background(), tok); err != nil {
		t.Errorf("token of %d bytes: %v", len(tok), err)
	}
}

func TestNewValidatorOptions(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Options)
		message string // "" when valid
	}{
		{name: "valid", edit: func(*Options) {}},
		{name: "no issuer", edit: func(o *Options) { o.Issuer = "" }, message: "Options.Issuer is empty"},
		{name: "no tenant", edit: func(o *Options) { o.Tenant = " " }, message: "Options.Tenant is empty"},
		{name: "no resources", edit: func(o *Options) { o.Resources = nil }, message: "Options.Resources is empty"},
		{name: "slash resource", edit: func(o *Options) { o.Resources = []string{"/"} }, message: `Options.Resources[0] = "/"`},
		{name: "resource with space", edit: func(o *Options) { o.Resources = []string{testResource, "https://a b"} }, message: "Options.Resources[1]"},
		{name: "no keys", edit: func(o *Options) { o.Keys = nil }, message: "Options.Keys is nil"},
		{name: "negative skew", edit: func(o *Options) { o.Skew = -time.Second }, message: "Skew is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Issuer: testIssuer, Tenant: testTenant, Resources: []string{testResource}, Keys: StaticKeys(jose.JSONWebKeySet{})}
			tc.edit(&o)
			v, err := NewValidator(o)
			if tc.message == "" {
				if err != nil || v == nil {
					t.Fatalf("NewValidator = %v, %v", v, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("NewValidator error = %v, want %q", err, tc.message)
			}
		})
	}
}

func TestValidateKeySourceFailure(t *testing.T) {
	key, _, _, _ := keys(t)
	v, _ := newValidator(t, func(o *Options) {
		o.Keys = FuncKeys(func() []byte { return []byte("<html>") })
	})
	_, err := v.Validate(context.Background(), sign(t, key, jose.RS256, testKid, baseClaims()))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("error = %v, want ErrUnavailable", err)
	}
}

func TestValidateCache(t *testing.T) {
	key, _, _, _ := keys(t)
	src := &countingKeys{KeySource: StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{publicJWK(key, testKid)}})}
	v, clk := newValidator(t, func(o *Options) { o.Keys = src })
	ctx := context.Background()
	c := baseClaims()
	c["exp"] = testNow.Add(20 * time.Minute).Unix()
	tok := sign(t, key, jose.RS256, testKid, c)

	first, err := v.Validate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	second, err := v.Validate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if first != second {
		t.Errorf("cached principal %+v differs from %+v", second, first)
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("key source called %d times for two validations of one token, want 1 (a cache hit)", n)
	}

	// Five minutes after caching, the entry is gone: the token is verified again.
	clk.advance(5 * time.Minute)
	if _, err := v.Validate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("key source calls = %d after the cache time, want 2", n)
	}

	// Past exp + skew, the token is refused even though it was just cached.
	clk.set(testNow.Add(20*time.Minute + DefaultSkew))
	if _, err := v.Validate(ctx, tok); !errors.Is(err, ErrExpired) {
		t.Errorf("expired cached token: error = %v, want ErrExpired", err)
	}

	// Failures are not cached.
	bad := sign(t, key, jose.RS256, testKid, map[string]any{"iss": "x", "exp": testNow.Add(time.Hour).Unix()})
	before := src.calls.Load()
	for range 3 {
		if _, err := v.Validate(ctx, bad); !errors.Is(err, ErrIssuer) {
			t.Fatalf("error = %v, want ErrIssuer", err)
		}
	}
	if n := src.calls.Load() - before; n != 3 {
		t.Errorf("a failing token was verified %d times in 3 calls, want 3 (no caching)", n)
	}
}

// A hit re-checks exp against the clock even while the entry lives: an entry
// for a token within the skew past its exp stays until exp+skew is reached.
func TestValidateCacheHitChecksTime(t *testing.T) {
	key, _, _, _ := keys(t)
	src := &countingKeys{KeySource: StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{publicJWK(key, testKid)}})}
	v, clk := newValidator(t, func(o *Options) { o.Keys = src })
	c := baseClaims()
	c["nbf"] = testNow.Add(3 * time.Minute).Unix() // not yet valid, but within skew
	tok := sign(t, key, jose.RS256, testKid, c)
	if _, err := v.Validate(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	// Move the clock back: the cached entry is still there, its nbf now beyond the skew.
	clk.set(testNow.Add(-3 * time.Minute))
	if _, err := v.Validate(context.Background(), tok); !errors.Is(err, ErrExpired) {
		t.Errorf("cache hit with nbf beyond the skew: error = %v, want ErrExpired", err)
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("key source calls = %d, want 1 (the refusal came from the cache)", n)
	}
}

func TestValidateCacheDisabled(t *testing.T) {
	key, _, _, _ := keys(t)
	src := &countingKeys{KeySource: StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{publicJWK(key, testKid)}})}
	v, _ := newValidator(t, func(o *Options) { o.Keys = src; o.CacheSize = -1 })
	tok := sign(t, key, jose.RS256, testKid, baseClaims())
	for range 3 {
		if _, err := v.Validate(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := src.calls.Load(); n != 3 {
		t.Errorf("key source calls = %d with the cache disabled, want 3", n)
	}
}

func TestValidateCacheBounded(t *testing.T) {
	key, _, _, _ := keys(t)
	v, _ := newValidator(t, func(o *Options) { o.CacheSize = 5 })
	for i := range 40 {
		c := baseClaims()
		c["uti"] = big.NewInt(int64(i)).String()
		if _, err := v.Validate(context.Background(), sign(t, key, jose.RS256, testKid, c)); err != nil {
			t.Fatal(err)
		}
		if n := v.cache.len(); n > 5 {
			t.Fatalf("cache holds %d entries, CacheSize 5", n)
		}
	}
	if n := v.cache.len(); n == 0 {
		t.Error("cache is empty after 40 validations")
	}
}

func TestValidateConcurrent(t *testing.T) {
	key, _, _, _ := keys(t)
	v, _ := newValidator(t, func(o *Options) { o.CacheSize = 8 })
	var toks []string
	for i := range 16 {
		c := baseClaims()
		c["oid"] = "oid-" + big.NewInt(int64(i)).String()
		toks = append(toks, sign(t, key, jose.RS256, testKid, c))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				n := (g + i) % len(toks)
				p, err := v.Validate(context.Background(), toks[n])
				if err != nil || p.ObjectID != "oid-"+big.NewInt(int64(n)).String() {
					errs <- errors.Join(err, errors.New("wrong principal "+p.ObjectID))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCacheEviction(t *testing.T) {
	for _, size := range []int{1, 2, 3, 63, 64, 100, 1000} {
		c := newCache(size)
		var key [32]byte
		for i := range size * 4 {
			key[0], key[1], key[2] = byte(i), byte(i>>8), byte(i>>16)
			c.put(key, cacheEntry{until: testNow.Add(time.Minute)}, testNow)
			if n := c.len(); n > size {
				t.Fatalf("size %d: cache holds %d entries", size, n)
			}
		}
		// The entry just put is always there.
		if _, ok := c.get(key, testNow); !ok {
			t.Errorf("size %d: the newest entry is missing", size)
		}
		// Entries whose time is up are not returned.
		if _, ok := c.get(key, testNow.Add(time.Minute)); ok {
			t.Errorf("size %d: an entry was returned at its until", size)
		}
	}
}
