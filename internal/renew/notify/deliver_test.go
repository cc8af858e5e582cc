package notify

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSecretsNeverLogged(t *testing.T) {
	// The server echoes the request URL in its error body, as some do.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, "no such hook: "+r.URL.String())
	}))
	defer echo.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close() // connection refused from now on
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/SECRETREDIRECT", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()

	withSecrets := func(base string) string {
		return strings.Replace(base, "http://", "http://user:PASSWORD@", 1) + "/services/T000/B000/SECRETPATH?token=SECRETQUERY"
	}
	h := newHarness(t, Options{Webhooks: []Webhook{
		{URL: withSecrets(echo.URL)},
		{URL: withSecrets(goneURL)},
		{URL: withSecrets(redirect.URL)},
	}})
	h.n.Send(context.Background(), failed)
	rs := h.res.wait(t, 3)
	h.n.Close(context.Background())

	logs := h.logs.String()
	for _, secret := range []string{"SECRETPATH", "SECRETQUERY", "PASSWORD", "SECRETREDIRECT", "services/T000"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
		for _, r := range rs {
			if strings.Contains(r.Err.Error(), secret) || strings.Contains(r.Endpoint, secret) || strings.Contains(r.Webhook, secret) {
				t.Errorf("result of %s contains %q: %v", r.Endpoint, secret, r.Err)
			}
		}
	}
	for _, endpoint := range []string{echo.URL, goneURL, redirect.URL} {
		if !strings.Contains(logs, "endpoint="+endpoint) {
			t.Errorf("logs do not name %s", endpoint)
		}
	}
	if !strings.Contains(logs, "[redacted]") {
		t.Error("the echoed URL should appear redacted")
	}
	// Errors from New do not quote the URL either.
	for _, bad := range []string{
		"http://example.com/SECRETPATH",
		"ftp://example.com/SECRETPATH",
		"https://exa mple.com/SECRETPATH",
		"https:///SECRETPATH",
		"https://example.com:99999999999/SECRETPATH",
	} {
		_, err := New(Options{Webhooks: []Webhook{{URL: bad}}})
		if err == nil {
			t.Errorf("%s accepted", strings.ReplaceAll(bad, "SECRETPATH", "…"))
		} else if strings.Contains(err.Error(), "SECRETPATH") {
			t.Errorf("New error quotes the URL: %v", err)
		}
	}
}

func TestRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	var landed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /old", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/new", http.StatusPermanentRedirect)
	})
	mux.HandleFunc("POST /new", func(w http.ResponseWriter, r *http.Request) {
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			landed.Add(1)
		}
	})
	mux.HandleFunc("POST /away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/x", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("POST /loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	h := newHarness(t, Options{Webhooks: []Webhook{{URL: srv.URL + "/old"}}})
	h.n.Send(context.Background(), renewed)
	if r := h.res.wait(t, 1)[0]; r.Err != nil || landed.Load() != 1 {
		t.Errorf("same-host redirect: %v, landed %d", r.Err, landed.Load())
	}

	for _, path := range []string{"/away", "/loop"} {
		h := newHarness(t, Options{Webhooks: []Webhook{{URL: srv.URL + path}}})
		h.n.Send(context.Background(), renewed)
		r := h.res.wait(t, 1)[0]
		if r.Err == nil || r.Attempts != 1 || r.Status != http.StatusTemporaryRedirect || !strings.Contains(r.Err.Error(), "not followed") {
			t.Errorf("%s: %+v", path, r)
		}
	}
	if elsewhere.Load() != 0 {
		t.Error("a redirect to another host was followed")
	}
}

func TestWebhookValidation(t *testing.T) {
	tests := []struct {
		hook      Webhook
		allowHTTP bool
		wantErr   string
	}{
		{Webhook{URL: "https://hooks.slack.com/services/x"}, false, ""},
		{Webhook{URL: "https://203.0.113.7:8443/hook"}, false, ""},
		{Webhook{URL: "http://127.0.0.1:9/hook"}, false, ""},
		{Webhook{URL: "http://[::1]:9/hook"}, false, ""},
		{Webhook{URL: "http://localhost/hook"}, false, ""},
		{Webhook{URL: "http://hooks.internal.example/hook"}, false, "plain HTTP to http://hooks.internal.example"},
		{Webhook{URL: "http://hooks.internal.example/hook"}, true, ""},
		{Webhook{URL: "mailto:ops@example.com"}, false, "no host"},
		{Webhook{URL: "ws://example.com/"}, false, `scheme "ws"`},
		{Webhook{URL: "https://example.com/", Format: "xml"}, false, "unknown webhook format"},
		{Webhook{URL: "https://example.com/", Events: []EventType{"certificate.exploded"}}, false, "unknown event type"},
		{Webhook{Name: "pager", URL: ""}, false, "webhook 1 (pager)"},
	}
	for _, tt := range tests {
		n, err := New(Options{AllowHTTP: tt.allowHTTP, Webhooks: []Webhook{tt.hook}})
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%+v: %v", tt.hook, err)
				continue
			}
			n.Close(context.Background())
		} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%+v: err = %v, want %q", tt.hook, err, tt.wantErr)
		}
	}
}

func TestHTTPSDelivery(t *testing.T) {
	var got atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted case fails handshakes on purpose
	srv.StartTLS()
	defer srv.Close()
	h := newHarness(t, Options{Client: srv.Client(), Webhooks: []Webhook{{URL: srv.URL + "/hook"}}})
	h.n.Send(context.Background(), renewed)
	if r := h.res.wait(t, 1)[0]; r.Err != nil || got.Load() != 1 {
		t.Errorf("HTTPS delivery: %v", r.Err)
	}
	// Without the test CA the same server is refused, and that is retried.
	h = newHarness(t, Options{Attempts: 2, Webhooks: []Webhook{{URL: srv.URL + "/hook"}}})
	h.n.Send(context.Background(), renewed)
	if r := h.res.wait(t, 1)[0]; r.Err == nil || r.Attempts != 2 || !strings.Contains(r.Err.Error(), "certificate") {
		t.Errorf("untrusted HTTPS: %+v", r)
	}
}

func TestAttemptTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	h := newHarness(t, Options{Timeout: 20 * time.Millisecond, Attempts: 2, Webhooks: []Webhook{{URL: srv.URL}}})
	h.n.Send(context.Background(), renewed)
	r := h.res.wait(t, 1)[0]
	if r.Err == nil || r.Attempts != 2 || !strings.Contains(r.Err.Error(), "no answer within 20ms") {
		t.Errorf("result %+v", r)
	}
}

// endless is a response body that never ends and counts what is read.
type endless struct{ read *atomic.Int64 }

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.read.Add(int64(len(p)))
	return len(p), nil
}

func (e endless) Close() error { return nil }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestResponseBodyBounded(t *testing.T) {
	for _, status := range []int{200, 500} {
		var read atomic.Int64
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Header: http.Header{}, Body: endless{&read}, Request: r}, nil
		})}
		h := newHarness(t, Options{Client: client, Attempts: 1, MaxResponseBytes: 1 << 20, Webhooks: []Webhook{{URL: "https://hooks.example/x"}}})
		h.n.Send(context.Background(), renewed)
		r := h.res.wait(t, 1)[0]
		if n := read.Load(); n > 1<<20+64<<10 {
			t.Errorf("status %d: read %d bytes of an endless body, limit 1 MiB", status, n)
		}
		var se *StatusError
		if status == 500 && (!errors.As(r.Err, &se) || len(se.Body) > snippetBytes+len("…")) {
			t.Errorf("status %d: error %v", status, r.Err)
		}
		if status == 200 && r.Err != nil {
			t.Errorf("status 200: %v", r.Err)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"-5":                            0,
		" 30 ":                          30 * time.Second,
		"1.5":                           0,
		"99999999999999999999":          0,
		"9999999999":                    2147483647 * time.Second,
		"Wed, 01 Jul 2026 12:05:00 GMT": 5 * time.Minute,
		"Wed, 01 Jul 2026 11:05:00 GMT": 0,
		"tomorrow":                      0,
	}
	for in, want := range tests {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "7", "-1", "Wed, 01 Jul 2026 12:05:00 GMT", "Monday, 02-Jan-06 15:04:05 MST", "1e9"} {
		f.Add(s)
	}
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if d := parseRetryAfter(s, now); d < 0 {
			t.Errorf("parseRetryAfter(%q) = %s, negative", s, d)
		}
	})
}

func FuzzVerify(f *testing.F) {
	body := []byte(`{"id":"1"}`)
	at := time.Unix(1780000000, 0)
	f.Add(Sign("k", at, body), body)
	f.Add("t=1,v1=", body)
	f.Add(",,,=", []byte(nil))
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		err := Verify("k", header, b, at, time.Minute)
		if err != nil && !errors.Is(err, ErrSignature) {
			t.Errorf("error %v does not wrap ErrSignature", err)
		}
		if err == nil && Verify("other key", header, b, at, time.Minute) == nil {
			t.Errorf("header %q verifies under two keys", header)
		}
	})
}
