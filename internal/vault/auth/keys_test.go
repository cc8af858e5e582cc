package auth

import (
	"context"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestStaticKeysCopies(t *testing.T) {
	key, other, _, _ := keys(t)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{publicJWK(key, testKid)}}
	src := StaticKeys(set)
	set.Keys[0] = publicJWK(other, testKid) // the caller's later change
	got, err := src.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Keys[0].Key.(*rsa.PublicKey).Equal(key.Public()) {
		t.Error("StaticKeys shares the caller's slice")
	}
}

func TestFuncKeys(t *testing.T) {
	key, other, _, _ := keys(t)
	doc := jwksJSON(t, publicJWK(key, testKid))
	var mu sync.Mutex
	src := FuncKeys(func() []byte {
		mu.Lock()
		defer mu.Unlock()
		return append([]byte(nil), doc...) // a fresh slice each call, as json.Marshal gives
	})
	setDoc := func(b []byte) { mu.Lock(); doc = b; mu.Unlock() }
	ctx := context.Background()

	first, err := src.Keys(ctx)
	if err != nil || len(first.Keys) != 1 || first.Keys[0].KeyID != testKid {
		t.Fatalf("Keys = %v, %v", first, err)
	}
	again, _ := src.Keys(ctx)
	if again != first {
		t.Error("unchanged JWKS bytes were parsed again (new set pointer)")
	}

	setDoc(jwksJSON(t, publicJWK(key, testKid), publicJWK(other, "key-2")))
	rotated, err := src.Keys(ctx)
	if err != nil || rotated == first || len(rotated.Keys) != 2 {
		t.Fatalf("after a change: Keys = %v, %v; want a new set of 2 keys", rotated, err)
	}

	setDoc([]byte("garbage"))
	kept, err := src.Keys(ctx)
	if err != nil || kept != rotated {
		t.Errorf("after a bad document: Keys = %p, %v; want the last good set %p", kept, err, rotated)
	}

	bad := FuncKeys(func() []byte { return []byte(`{"keys":[]}`) })
	if _, err := bad.Keys(ctx); err == nil {
		t.Error("a JWKS with no keys and no earlier set gave no error")
	}
}

func TestFuncKeysValidates(t *testing.T) {
	key, other, _, _ := keys(t)
	doc := jwksJSON(t, publicJWK(key, testKid))
	var mu sync.Mutex
	v, _ := newValidator(t, func(o *Options) {
		o.Keys = FuncKeys(func() []byte { mu.Lock(); defer mu.Unlock(); return doc })
	})
	ctx := context.Background()
	if _, err := v.Validate(ctx, sign(t, key, jose.RS256, testKid, baseClaims())); err != nil {
		t.Fatal(err)
	}
	rotated := sign(t, other, jose.RS256, "key-2", baseClaims())
	if _, err := v.Validate(ctx, rotated); !errors.Is(err, ErrSignature) {
		t.Fatalf("token of a key not yet published: %v, want ErrSignature", err)
	}
	mu.Lock()
	doc = jwksJSON(t, publicJWK(key, testKid), publicJWK(other, "key-2"))
	mu.Unlock()
	if _, err := v.Validate(ctx, rotated); err != nil {
		t.Errorf("token of a newly published key: %v", err)
	}
}

func TestParseKeySet(t *testing.T) {
	key, _, _, _ := keys(t)
	good := string(jwksJSON(t, publicJWK(key, testKid)))
	goodKey := good[strings.Index(good, "[")+1 : strings.LastIndex(good, "]")]
	private := string(jwksJSON(t, jose.JSONWebKey{Key: key, KeyID: "priv"}))
	privateKey := private[strings.Index(private, "[")+1 : strings.LastIndex(private, "]")]
	tests := []struct {
		name string
		doc  string
		kids []string // nil: an error
	}{
		{name: "one key", doc: good, kids: []string{testKid}},
		{name: "unknown kty skipped", doc: `{"keys":[{"kty":"AKP","kid":"pq","alg":"ML-DSA-44","pub":"AAAA"},` + goodKey + `]}`, kids: []string{testKid}},
		{name: "symmetric key skipped", doc: `{"keys":[{"kty":"oct","kid":"hmac","k":"c2VjcmV0"},` + goodKey + `]}`, kids: []string{testKid}},
		{name: "private key skipped", doc: `{"keys":[` + privateKey + `,` + goodKey + `]}`, kids: []string{testKid}},
		{name: "only a private key", doc: private},
		{name: "no keys", doc: `{"keys":[]}`},
		{name: "no keys member", doc: `{"kid":"x"}`},
		{name: "not JSON", doc: `<html>`},
		{name: "keys not an array", doc: `{"keys":{}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := ParseKeySet([]byte(tc.doc))
			if tc.kids == nil {
				if err == nil {
					t.Fatalf("ParseKeySet = %v, want an error", set)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range set.Keys {
				kids = append(kids, k.KeyID)
				if !k.IsPublic() {
					t.Errorf("key %s is not public", k.KeyID)
				}
			}
			if strings.Join(kids, ",") != strings.Join(tc.kids, ",") {
				t.Errorf("kids = %v, want %v", kids, tc.kids)
			}
		})
	}
}

// jwksServer serves a settable JWKS document (or status) and counts requests.
type jwksServer struct {
	*httptest.Server
	mu       sync.Mutex
	doc      []byte
	status   int
	requests atomic.Int64
	block    chan struct{} // when set, requests wait on it
}

func newJWKSServer(t *testing.T, doc []byte) *jwksServer {
	s := &jwksServer{doc: doc, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		doc, status, block := s.doc, s.status, s.block
		s.mu.Unlock()
		if block != nil {
			<-block
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(doc []byte, status int) {
	s.mu.Lock()
	s.doc, s.status = doc, status
	s.mu.Unlock()
}

func TestRemoteKeysCache(t *testing.T) {
	key, _, _, _ := keys(t)
	srv := newJWKSServer(t, jwksJSON(t, publicJWK(key, testKid)))
	clk := newClock(testNow)
	r := RemoteKeys(srv.URL, srv.Client())
	r.Clock = clk.now
	ctx := context.Background()

	first, err := r.Keys(ctx)
	if err != nil || len(first.Keys) != 1 {
		t.Fatalf("Keys = %v, %v", first, err)
	}
	clk.advance(59 * time.Minute)
	if again, _ := r.Keys(ctx); again != first {
		t.Error("the set was replaced within the cache time")
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("requests = %d within the cache time, want 1", n)
	}
	clk.advance(time.Minute)
	if _, err := r.Keys(ctx); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("requests = %d after the cache time, want 2", n)
	}
}

func TestRemoteKeysFetchSurvivesCanceledCaller(t *testing.T) {
	key, _, _, _ := keys(t)
	srv := newJWKSServer(t, jwksJSON(t, publicJWK(key, testKid)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if set, err := RemoteKeys(srv.URL, nil).Keys(ctx); err != nil || len(set.Keys) != 1 {
		t.Errorf("Keys with a canceled context = %v, %v", set, err)
	}
}

func TestRemoteKeysRefetchOnUnknownKid(t *testing.T) {
	key, other, third, _ := keys(t)
	srv := newJWKSServer(t, jwksJSON(t, publicJWK(key, testKid)))
	remote := RemoteKeys(srv.URL, srv.Client())
	v, clk := newValidator(t, func(o *Options) { o.Keys = remote })
	remote.Clock = clk.now
	ctx := context.Background()

	if _, err := v.Validate(ctx, sign(t, key, jose.RS256, testKid, baseClaims())); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("requests = %d after the first token, want 1", n)
	}

	// The issuer rotates. Within the refetch interval of the first fetch, an
	// unknown kid does not cause a fetch.
	srv.set(jwksJSON(t, publicJWK(key, testKid), publicJWK(other, "key-2")), http.StatusOK)
	rotated := sign(t, other, jose.RS256, "key-2", baseClaims())
	clk.advance(10 * time.Second)
	if _, err := v.Validate(ctx, rotated); !errors.Is(err, ErrSignature) {
		t.Fatalf("within the refetch interval: %v, want ErrSignature", err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("requests = %d, want 1: refetched within %s", n, JWKSRefetchInterval)
	}

	// After the interval the unknown kid triggers one fetch, which finds it.
	clk.advance(JWKSRefetchInterval)
	if _, err := v.Validate(ctx, rotated); err != nil {
		t.Fatalf("after the refetch interval: %v", err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("requests = %d, want 2", n)
	}

	// Forged kids cannot make the vault hammer the issuer.
	for i := range 50 {
		forged := sign(t, third, jose.RS256, "forged-"+string(rune('a'+i%26)), baseClaims())
		if _, err := v.Validate(ctx, forged); !errors.Is(err, ErrSignature) {
			t.Fatalf("forged kid: %v", err)
		}
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("requests = %d after 50 forged kids, want 2", n)
	}
	clk.advance(JWKSRefetchInterval)
	for range 10 {
		v.Validate(ctx, sign(t, third, jose.RS256, "forged", baseClaims()))
	}
	if n := srv.requests.Load(); n != 3 {
		t.Errorf("requests = %d after the next interval and 10 forged kids, want 3", n)
	}
}

func TestRemoteKeysOversize(t *testing.T) {
	key, _, _, _ := keys(t)
	good := string(jwksJSON(t, publicJWK(key, testKid)))
	// A valid JWKS padded past the limit with whitespace.
	big := []byte(good[:len(good)-1] + strings.Repeat(" ", MaxJWKSSize) + "}")
	srv := newJWKSServer(t, big)
	r := RemoteKeys(srv.URL, srv.Client())
	_, err := r.Keys(context.Background())
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("oversize JWKS: error = %v", err)
	}
	v, _ := newValidator(t, func(o *Options) { o.Keys = RemoteKeys(srv.URL, srv.Client()) })
	if _, err := v.Validate(context.Background(), sign(t, key, jose.RS256, testKid, baseClaims())); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Validate with an oversize JWKS: %v, want ErrUnavailable", err)
	}
	// Just within the limit is fine.
	srv.set([]byte(good[:len(good)-1]+strings.Repeat(" ", MaxJWKSSize-len(good))+"}"), http.StatusOK)
	if set, err := RemoteKeys(srv.URL, srv.Client()).Keys(context.Background()); err != nil || len(set.Keys) != 1 {
		t.Errorf("JWKS of exactly %d bytes: %v, %v", MaxJWKSSize, set, err)
	}
}

func TestRemoteKeysFailureKeepsLastGoodSet(t *testing.T) {
	key, _, _, _ := keys(t)
	srv := newJWKSServer(t, jwksJSON(t, publicJWK(key, testKid)))
	clk := newClock(testNow)
	r := RemoteKeys(srv.URL, srv.Client())
	r.Clock = clk.now
	ctx := context.Background()
	good, err := r.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}

	for _, fail := range []struct {
		doc    string
		status int
	}{{"oops", http.StatusInternalServerError}, {"<html>", http.StatusOK}, {`{"keys":[]}`, http.StatusOK}} {
		srv.set([]byte(fail.doc), fail.status)
		clk.advance(JWKSCacheTime + time.Second)
		before := srv.requests.Load()
		got, err := r.Keys(ctx)
		if err != nil || got != good {
			t.Errorf("%d %q: Keys = %p, %v; want the last good set", fail.status, fail.doc, got, err)
		}
		if srv.requests.Load() != before+1 {
			t.Errorf("%d %q: the stale set was not refetched", fail.status, fail.doc)
		}
		// A failed refresh is not retried on every call.
		clk.advance(time.Second)
		r.Keys(ctx)
		if n := srv.requests.Load(); n != before+1 {
			t.Errorf("%d %q: %d requests after a failure, want %d (retry rate-limited)", fail.status, fail.doc, n, before+1)
		}
	}

	// Validation keeps working on the last good set.
	v, vclk := newValidator(t, func(o *Options) { o.Keys = r })
	vclk.set(clk.now())
	c := baseClaims()
	c["nbf"], c["exp"] = clk.now().Add(-time.Minute).Unix(), clk.now().Add(time.Hour).Unix()
	if _, err := v.Validate(ctx, sign(t, key, jose.RS256, testKid, c)); err != nil {
		t.Errorf("Validate while the issuer fails: %v", err)
	}
}

func TestRemoteKeysInitialFailure(t *testing.T) {
	key, _, _, _ := keys(t)
	srv := newJWKSServer(t, []byte("down"))
	srv.set([]byte("down"), http.StatusServiceUnavailable)
	clk := newClock(testNow)
	r := RemoteKeys(srv.URL, srv.Client())
	r.Clock = clk.now
	ctx := context.Background()
	if _, err := r.Keys(ctx); err == nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("Keys from a failing issuer: %v", err)
	}
	if _, err := r.Keys(ctx); err == nil {
		t.Fatal("second Keys succeeded without a good set")
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("requests = %d right after a failure, want 1", n)
	}
	srv.set(jwksJSON(t, publicJWK(key, testKid)), http.StatusOK)
	clk.advance(jwksFirstRetry)
	if set, err := r.Keys(ctx); err != nil || len(set.Keys) != 1 {
		t.Errorf("Keys after the issuer recovered: %v, %v", set, err)
	}
}

func TestRemoteKeysStaleSetWhileFetching(t *testing.T) {
	key, _, _, _ := keys(t)
	srv := newJWKSServer(t, jwksJSON(t, publicJWK(key, testKid)))
	clk := newClock(testNow)
	r := RemoteKeys(srv.URL, srv.Client())
	r.Clock = clk.now
	ctx := context.Background()
	stale, err := r.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	block := make(chan struct{})
	srv.mu.Lock()
	srv.block = block
	srv.mu.Unlock()
	clk.advance(JWKSCacheTime)

	done := make(chan struct{})
	go func() { r.Keys(ctx); close(done) }()
	for srv.requests.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	// The refresh is in flight: other callers get the stale set at once.
	got, err := r.Keys(ctx)
	if err != nil || got != stale {
		t.Errorf("Keys during a refresh = %p, %v; want the stale set %p", got, err, stale)
	}
	close(block)
	<-done
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("requests = %d, want 2", n)
	}
}

func TestHasPrivateMembers(t *testing.T) {
	for doc, want := range map[string]bool{
		`{"kty":"RSA","n":"AQAB","e":"AQAB"}`:          false,
		`{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQ"}`: true,
		`{"kty":"EC","crv":"P-256","x":"A","y":"B"}`:   false,
		`{"kty":"EC","crv":"P-256","d":"A"}`:           true,
		`{"kty":"oct","k":"c2VjcmV0"}`:                 true,
		`{"kty":"RSA","p":"AQ","q":"AQ"}`:              true,
		`{"kty":"AKP","priv":"AQ"}`:                    true,
		`not json`:                                     true,
	} {
		if got := hasPrivateMembers([]byte(doc)); got != want {
			t.Errorf("hasPrivateMembers(%s) = %v, want %v", doc, got, want)
		}
	}
}
