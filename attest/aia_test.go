package attest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// aiaServer serves DER certificates by path and counts requests.
type aiaServer struct {
	*httptest.Server
	hits  atomic.Int64
	mu    sync.Mutex
	files map[string][]byte
}

func newAIAServer(t *testing.T) *aiaServer {
	s := &aiaServer{files: map[string][]byte{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		b, ok := s.files[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *aiaServer) set(path string, b []byte) {
	s.mu.Lock()
	s.files[path] = b
	s.mu.Unlock()
}

// g2Like builds the 2026 shape: leaf -> sub (AIA) -> new root cross-signed
// by the old root (AIA) -> old root, the only anchor. Two AIA hops.
func g2Like(t *testing.T, base string) (oldRoot, xsign, sub, leaf *testCA) {
	oldRoot = issue(t, caTemplate("Old Root"), nil, nil)
	newRoot := issue(t, caTemplate("New Root G2"), nil, nil)
	xsign = issue(t, caTemplate("New Root G2"), oldRoot, newRoot.key)
	sub = issue(t, caTemplate("G2 Sub CA 02", base+"/xsign.crt"), newRoot, nil)
	leaf = issue(t, leafTemplate([]string{"metadata.tegata.test"}, base+"/sub.crt"), sub, nil)
	return
}

func TestAIAFetcher(t *testing.T) {
	srv := newAIAServer(t)
	oldRoot, xsign, sub, leaf := g2Like(t, srv.URL)
	srv.set("/sub.crt", sub.cert.Raw)
	srv.set("/xsign.crt", xsign.cert.Raw)
	content := testDoc("n").MarshalAzure("2025-04-07")
	der, err := Sign(content, leaf.key, leaf.cert, AzureSignOptions())
	if err != nil {
		t.Fatal(err)
	}
	doc := MarshalResponse(der)
	now := testEpoch.Add(time.Minute)
	clock := now
	var clockMu sync.Mutex
	tick := func(d time.Duration) { clockMu.Lock(); clock = clock.Add(d); clockMu.Unlock() }
	nowFn := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	verify := func(f *AIAFetcher, extra ...IntermediateSource) (*Result, error) {
		return Verify(context.Background(), doc, VerifyOptions{At: now, Roots: poolOf(oldRoot.cert),
			SignerNames: []string{"metadata.tegata.test"}, Intermediates: append(extra, f)})
	}
	loopback := AIAOptions{AllowedHosts: []string{"127.0.0.1"}, AllowLoopback: true, Now: nowFn}

	t.Run("two hops, then cached", func(t *testing.T) {
		srv.hits.Store(0)
		f := NewAIAFetcher(loopback)
		res, err := verify(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Chain) != 4 || len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], "AIA") {
			t.Errorf("chain %d, warnings %q", len(res.Chain), res.Warnings)
		}
		if _, err := verify(f); err != nil {
			t.Fatal(err)
		}
		if n := srv.hits.Load(); n != 2 {
			t.Errorf("hits = %d, want 2 (second verification served from cache)", n)
		}
	})
	t.Run("known sub CA is followed, only xsign fetched", func(t *testing.T) {
		srv.hits.Store(0)
		if _, err := verify(NewAIAFetcher(loopback), StaticIntermediates(sub.cert)); err != nil {
			t.Fatal(err)
		}
		if n := srv.hits.Load(); n != 1 {
			t.Errorf("hits = %d, want 1", n)
		}
	})
	t.Run("negative cache expires on the injected clock", func(t *testing.T) {
		srv.hits.Store(0)
		srv.set("/sub.crt", []byte("not a certificate"))
		f := NewAIAFetcher(loopback)
		if _, err := verify(f); !errors.Is(err, ErrUntrustedChain) {
			t.Fatalf("err = %v", err)
		}
		srv.set("/sub.crt", sub.cert.Raw)
		if _, err := verify(f); !errors.Is(err, ErrUntrustedChain) {
			t.Fatalf("within the negative TTL: err = %v", err)
		}
		tick(6 * time.Minute)
		if _, err := verify(f); err != nil {
			t.Fatalf("after the negative TTL: %v", err)
		}
		if n := srv.hits.Load(); n != 3 {
			t.Errorf("hits = %d, want 3", n)
		}
	})
	refused := []struct {
		name     string
		opts     AIAOptions
		wantHits int64
		wantIn   string
	}{
		{"host not allowed is skipped", AIAOptions{AllowLoopback: true}, 0, "not in the AIA allow-list"},
		{"port other than 80 refused without AllowLoopback", AIAOptions{AllowedHosts: []string{"127.0.0.1"}}, 0, "port"},
		{"offline never dials", AIAOptions{AllowedHosts: []string{"127.0.0.1"}, AllowLoopback: true, Offline: true}, 0, "Sub CA 02"},
		{"size limit", AIAOptions{AllowedHosts: []string{"127.0.0.1"}, AllowLoopback: true, MaxBytes: 100}, 1, "larger than 100 bytes"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			srv.hits.Store(0)
			_, err := verify(NewAIAFetcher(c.opts))
			if !errors.Is(err, ErrUntrustedChain) || !strings.Contains(err.Error(), c.wantIn) {
				t.Fatalf("err = %v, want ErrUntrustedChain mentioning %q", err, c.wantIn)
			}
			if n := srv.hits.Load(); n != c.wantHits {
				t.Errorf("hits = %d, want %d", n, c.wantHits)
			}
		})
	}
}

// TestAIADialCheck drives the dial-time address check directly, since a
// test server cannot listen on the addresses it must refuse.
func TestAIADialCheck(t *testing.T) {
	f := NewAIAFetcher(AIAOptions{})
	for _, a := range []string{"127.0.0.1:80", "10.1.2.3:80", "169.254.169.254:80", "168.63.129.16:80", "[::1]:80",
		"[::ffff:127.0.0.1]:80", "100.64.0.1:80", "[fe80::1]:80", "[64:ff9b::a00:1]:80", "0.0.0.0:80", "224.0.0.1:80"} {
		if err := f.checkDial("tcp", a, nil); err == nil {
			t.Errorf("%s allowed", a)
		}
	}
	for _, a := range []string{"23.45.67.89:80", "[2600:1406::1]:80"} {
		if err := f.checkDial("tcp", a, nil); err != nil {
			t.Errorf("%s refused: %v", a, err)
		}
	}
	if !blockedIP(netip.MustParseAddr("192.168.0.1")) {
		t.Error("192.168.0.1 not blocked")
	}
	for _, u := range []string{"https://www.microsoft.com/x.crt", "http://evil.example/x.crt", "http://www.microsoft.com:8080/x.crt", "ftp://www.microsoft.com/x"} {
		if _, err := f.normalise(u); err == nil {
			t.Errorf("%s allowed", u)
		}
	}
	if u, err := f.normalise("http://user:pw@www.microsoft.com/pkiops/certs/a.crt?q=1#f"); err != nil || u != "http://www.microsoft.com/pkiops/certs/a.crt" {
		t.Errorf("normalise = %q, %v", u, err)
	}
}
