package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tegata-project/tegata/attest"
)

func TestAIAHandler(t *testing.T) {
	p := testPlan("")
	p.Roots = []RootPlan{{}, {Introduce: testStart.Add(15 * 24 * time.Hour), CrossSign: true}}
	clk := &fakeClock{t: testStart.Add(25 * 24 * time.Hour)}
	a := openTest(t, t.TempDir(), testMaster(t, 1), p, clk)
	srv := httptest.NewServer(a.AIAHandler())
	defer srv.Close()

	want := map[string]*x509.Certificate{}
	for _, e := range a.published(clk.Now(), true) {
		want[e.name] = e.cert
	}
	if len(want) != 5 { // two roots, one cross-cert, two Sub CAs
		t.Fatalf("published %d CA certificates, want 5", len(want))
	}
	type tc struct {
		method, path string
		status       int
		cert         *x509.Certificate
	}
	cases := []tc{
		{"GET", "/pki/unknown.crt", 404, nil},
		{"GET", "/pki/", 404, nil},
		{"GET", "/pki/leaf.crt", 404, nil}, // leaves are not CA Issuers
		{"GET", "/pki/root-ca-01.pem", 404, nil},
		{"GET", "/other/root-ca-01.crt", 404, nil},
		{"GET", "/pki/sub/root-ca-01.crt", 404, nil},
		{"GET", "/pki/" + strings.Repeat("a", 600) + ".crt", 404, nil},
		{"POST", "/pki/root-ca-01.crt", 405, nil},
	}
	for name, c := range want {
		cases = append(cases, tc{"GET", "/pki/" + name + ".crt", 200, c})
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path[:min(len(c.path), 40)], func(t *testing.T) {
			req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if c.cert == nil {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/pkix-cert" {
				t.Errorf("Content-Type %q", ct)
			}
			got, err := x509.ParseCertificate(body)
			if err != nil || !got.Equal(c.cert) {
				t.Errorf("body is not the DER of %s (err %v)", c.cert.Subject, err)
			}
		})
	}

	t.Run("bundle", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/pki/bundle.pem")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(body, a.Bundle()) {
			t.Error("bundle.pem differs from Bundle()")
		}
		n := 0
		for rest := body; ; n++ {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil || want[nameOf(a, c)] == nil {
				t.Errorf("bundle block %d is not a published CA (%v)", n, err)
			}
		}
		if n != 5 {
			t.Errorf("bundle has %d certificates, want 5", n)
		}
	})
}

func nameOf(a *Authority, c *x509.Certificate) string {
	for _, e := range a.published(a.clock(), true) {
		if e.cert.Equal(c) {
			return e.name
		}
	}
	return ""
}

// TestVerifyOverAIA builds the chain with no intermediates at all: the
// verifier fetches the Sub CA (and the cross-certificate, when anchored on
// the old root) from the Authority's own AIA endpoint.
func TestVerifyOverAIA(t *testing.T) {
	var h atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Load().(http.Handler).ServeHTTP(w, r)
	}))
	defer srv.Close()
	p := testPlan(srv.URL + "/pki")
	p.Roots = []RootPlan{{}, {Introduce: testStart.Add(15 * 24 * time.Hour), CrossSign: true}}
	for _, tc := range []struct {
		name     string
		at       time.Time
		rootIdx  int
		wantHops int
	}{
		{"single root", testStart.Add(time.Hour), 0, 1},
		{"new root direct", testStart.Add(31 * 24 * time.Hour), 1, 1},
		{"old root through the cross-cert", testStart.Add(31 * 24 * time.Hour), 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{t: tc.at}
			a := openTest(t, t.TempDir(), testMaster(t, 1), p, clk)
			h.Store(a.AIAHandler())
			key, leaf, _, err := a.Signer(tc.at)
			if err != nil {
				t.Fatal(err)
			}
			fetcher := attest.NewAIAFetcher(attest.AIAOptions{AllowedHosts: []string{"127.0.0.1"}, AllowLoopback: true, Now: clk.Now})
			data := signDoc(t, key, leaf, nil, tc.at)
			if _, err := verifyAt(data, a.Roots()[tc.rootIdx:tc.rootIdx+1], tc.at); err == nil {
				t.Fatal("verified with no intermediates and no AIA; the test proves nothing")
			}
			res, err := verifyAt(data, a.Roots()[tc.rootIdx:tc.rootIdx+1], tc.at, fetcher)
			if err != nil {
				t.Fatalf("verify over AIA: %v", err)
			}
			if got := len(res.Chain) - 2; got != tc.wantHops {
				t.Errorf("chain has %d intermediates, want %d", got, tc.wantHops)
			}
		})
	}
}
