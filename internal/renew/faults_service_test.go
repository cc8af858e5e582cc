package renew

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/renew/acme"
	"github.com/tegata-project/tegata/internal/renew/dnsprov"
	"github.com/tegata-project/tegata/internal/renew/notify"
	"github.com/tegata-project/tegata/internal/renew/schedule"
	"github.com/tegata-project/tegata/internal/testenv"
)

// faultService is newTestService with a hook to change the options, for the fault
// tests that need another ACME path, challenge address, provider or notifier.
func faultService(t *testing.T, peb *testenv.Pebble, tv *testVault, client *acme.Client, change func(*Options)) *Service {
	t.Helper()
	prov, err := dnsprov.New("challtestsrv", map[string]string{"url": peb.ChallTestSrvURL})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := NewVault(tv.url, tv.cred, tv.opts, true)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Instance: "test", Vault: kv, ACME: client, DNS: map[string]dnsprov.Provider{"test-dns": prov},
		DNS01: acme.DNS01{Resolvers: []string{peb.DNSAddr}, PropagationTimeout: 5 * time.Second, PollingInterval: 100 * time.Millisecond},
		Store: tv.st, Clock: time.Now, Sleep: func(context.Context, time.Duration) error { return nil },
	}
	if change != nil {
		change(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func acmeClient(t *testing.T, directory string, hc *http.Client) *acme.Client {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c, err := acme.NewClient(context.Background(), acme.Config{DirectoryURL: directory, Account: acme.Account{Key: key}, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rateLimiter is a reverse proxy in front of Pebble that answers newOrder with
// Let's Encrypt's rate-limit problem while limited is set. Pebble has no rate
// limits of its own; everything else reaches the real CA. The Host header is
// kept, so Pebble's URLs and its JWS url checks name the proxy.
type rateLimiter struct {
	srv     *httptest.Server
	limited atomic.Bool
	refused atomic.Int32
}

func startRateLimiter(t *testing.T, peb *testenv.Pebble) *rateLimiter {
	t.Helper()
	target, _ := url.Parse(peb.DirectoryURL)
	rl := &rateLimiter{}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: target.Scheme, Host: target.Host})
			r.Out.Host = r.In.Host
		},
		Transport: peb.HTTPClient().Transport,
	}
	rl.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rl.limited.Load() && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/order-plz") {
			rl.refused.Add(1)
			w.Header().Set("Content-Type", "application/problem+json")
			w.Header().Set("Retry-After", "7200")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many new orders (50) for this account in the last 3h0m0s, retry after 2026-12-02 06:00:00 UTC","status":429}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(rl.srv.Close)
	return rl
}

// webhookSink collects the tegata-format events posted to it.
type webhookSink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []map[string]any
}

func startWebhookSink(t *testing.T) *webhookSink {
	t.Helper()
	k := &webhookSink{}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ev); err == nil {
			k.mu.Lock()
			k.events = append(k.events, ev)
			k.mu.Unlock()
		}
	}))
	t.Cleanup(k.srv.Close)
	return k
}

// waitFor returns the first event of the type, waiting a bounded time for delivery.
func (k *webhookSink) waitFor(t *testing.T, typ string) map[string]any {
	t.Helper()
	for range 100 {
		k.mu.Lock()
		for _, ev := range k.events {
			if ev["type"] == typ {
				k.mu.Unlock()
				return ev
			}
		}
		k.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %q event reached the webhook", typ)
	return nil
}

// TestRenewalRateLimited: the CA refuses new orders with rateLimited and a
// Retry-After of 2 h. The renewal fails with the rate-limited class, the next
// attempt waits at least the Retry-After, the current version stays, a webhook
// reports the failure; once the limit is lifted, the renewal succeeds.
func TestRenewalRateLimited(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	rl := startRateLimiter(t, peb)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: poolOf(rl.srv.Certificate())}}}
	sink := startWebhookSink(t)
	nt, err := notify.New(notify.Options{Webhooks: []notify.Webhook{{URL: sink.srv.URL, Format: notify.FormatJSON}}, Instance: "test", Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nt.Close(context.Background()) })
	s := faultService(t, peb, tv, acmeClient(t, rl.srv.URL+"/dir", hc), func(o *Options) { o.Notifier = nt })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, err := s.Add(ctx, Definition{Name: "limited", DNSNames: []string{"limited.example.test"}, DNSProvider: "test-dns"})
	if err != nil {
		t.Fatal(err)
	}

	rl.limited.Store(true)
	before := time.Now()
	if _, err := s.Renew(ctx, "limited"); err == nil {
		t.Fatal("renewal succeeded while the CA refused new orders")
	}
	if rl.refused.Load() == 0 {
		t.Fatal("the rate limiter saw no new order")
	}
	r, _ := s.load(ctx, "limited")
	t.Logf("rate limit reported as: %s", r.LastError)
	if r.State.Last.Class != schedule.RateLimited || r.State.Last.RetryAfter != 2*time.Hour {
		t.Errorf("last attempt %+v: want class %q with the CA's 2 h Retry-After", r.State.Last, schedule.RateLimited)
	}
	if !strings.Contains(r.LastError, "rate") || r.Version != st.Version {
		t.Errorf("after the refusal: error %q, version %s (was %s)", r.LastError, r.Version, st.Version)
	}
	if next := s.status(r).NextRenewal; next.Before(before.Add(2 * time.Hour)) {
		t.Errorf("next attempt at %v, before the CA's Retry-After (%v)", next, before.Add(2*time.Hour))
	}
	if cur, _ := s.o.Vault.current(ctx, "limited"); cur == nil || cur.Version != st.Version {
		t.Error("the vault's current version changed after a refused renewal")
	}
	ev := sink.waitFor(t, string(notify.EventFailed))
	if !strings.Contains(ev["subject"].(string)+" "+jsonString(ev["data"]), "limited") {
		t.Errorf("failure event %v does not name the certificate", ev)
	}

	rl.limited.Store(false)
	got, err := s.Renew(ctx, "limited")
	if err != nil {
		t.Fatalf("renewal after the limit was lifted: %v", err)
	}
	if got.Version == st.Version || got.LastError != "" {
		t.Errorf("after the limit was lifted: %+v", got)
	}
}

// TestRenewalOrderInvalid: the CA cannot validate the http-01 challenge (tegata
// answers on a port the CA does not dial), so the authorization and the order
// become invalid. The current version stays and the error says which name failed;
// a service answering where the CA dials then renews.
func TestRenewalOrderInvalid(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	good := faultService(t, peb, tv, acmeClient(t, peb.DirectoryURL, peb.HTTPClient()), func(o *Options) {
		o.HTTP01Address = net.JoinHostPort("127.0.0.1", strconv.Itoa(peb.HTTPPort))
	})
	st, err := good.Add(ctx, Definition{Name: "invalid", DNSNames: []string{"invalid.example.test"}, HTTP01: true})
	if err != nil {
		t.Fatal(err)
	}

	wrongPort := freeLoopbackPort(t)
	bad := faultService(t, peb, tv, acmeClient(t, peb.DirectoryURL, peb.HTTPClient()), func(o *Options) {
		o.HTTP01Address = net.JoinHostPort("127.0.0.1", strconv.Itoa(wrongPort))
	})
	if _, err := bad.Renew(ctx, "invalid"); err == nil {
		t.Fatal("renewal succeeded although the CA could not reach the challenge")
	}
	r, _ := bad.load(ctx, "invalid")
	t.Logf("invalid order reported as: %s", r.LastError)
	if !r.State.Last.Failed() || r.Version != st.Version || !strings.Contains(r.LastError, "invalid.example.test") {
		t.Errorf("after the invalid order: last %+v, version %s (was %s), error %q", r.State.Last, r.Version, st.Version, r.LastError)
	}
	if cur, _ := bad.o.Vault.current(ctx, "invalid"); cur == nil || cur.Version != st.Version {
		t.Error("the vault's current version changed after an invalid order")
	}

	got, err := good.Renew(ctx, "invalid")
	if err != nil {
		t.Fatalf("renewal once the challenge is reachable: %v", err)
	}
	if got.Version == st.Version || got.LastError != "" {
		t.Errorf("after the fix: %+v", got)
	}
}

// silentProvider accepts the challenge records and publishes nothing while
// silent is set, as a DNS API that answers 200 and drops the write would.
type silentProvider struct {
	dnsprov.Provider
	silent atomic.Bool
}

func (p *silentProvider) Present(domain, token, keyAuth string) error {
	if p.silent.Load() {
		return nil
	}
	return p.Provider.Present(domain, token, keyAuth)
}

// TestRenewalPropagationTimeout: the provider's records never become visible; the
// renewal gives up after the propagation timeout without asking the CA to
// validate, keeps the current version, and succeeds once records appear.
func TestRenewalPropagationTimeout(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	inner, err := dnsprov.New("challtestsrv", map[string]string{"url": peb.ChallTestSrvURL})
	if err != nil {
		t.Fatal(err)
	}
	prov := &silentProvider{Provider: inner}
	s := faultService(t, peb, tv, acmeClient(t, peb.DirectoryURL, peb.HTTPClient()), func(o *Options) {
		o.DNS = map[string]dnsprov.Provider{"test-dns": prov}
		o.DNS01.PropagationTimeout = 2 * time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, err := s.Add(ctx, Definition{Name: "unseen", DNSNames: []string{"unseen.example.test"}, DNSProvider: "test-dns"})
	if err != nil {
		t.Fatal(err)
	}

	prov.silent.Store(true)
	start := time.Now()
	if _, err := s.Renew(ctx, "unseen"); err == nil {
		t.Fatal("renewal succeeded although the record never appeared")
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("gave up after %v, before the 2 s propagation timeout", took)
	}
	r, _ := s.load(ctx, "unseen")
	t.Logf("propagation timeout reported as: %s", r.LastError)
	if r.State.Last.Class != schedule.DNS || r.Version != st.Version || !strings.Contains(r.LastError, "_acme-challenge.unseen.example.test") {
		t.Errorf("after the timeout: class %q, version %s (was %s), error %q", r.State.Last.Class, r.Version, st.Version, r.LastError)
	}

	prov.silent.Store(false)
	got, err := s.Renew(ctx, "unseen")
	if err != nil {
		t.Fatalf("renewal once records appear: %v", err)
	}
	if got.Version == st.Version {
		t.Error("no new version after the records appeared")
	}
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
