package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestDeliversEachFormat(t *testing.T) {
	srv := newServer(t)
	h := newHarness(t, Options{Instance: "tegata-1", Webhooks: []Webhook{
		{URL: srv.URL + "/json", Format: FormatJSON, Secret: "s3cret"},
		{URL: srv.URL + "/slack", Format: FormatSlack},
		{URL: srv.URL + "/teams", Format: FormatTeams},
		{URL: srv.URL + "/acmebot", Format: FormatAcmebotGeneric},
		{URL: srv.URL + "/auto"}, // loopback host: generic JSON
	}})
	if err := h.n.Send(context.Background(), renewed); err != nil {
		t.Fatal(err)
	}
	for _, r := range h.res.wait(t, 5) {
		if r.Err != nil || r.Attempts != 1 || r.Status != http.StatusOK {
			t.Errorf("%s: %+v", r.Webhook, r)
		}
	}
	want := map[string]Format{"/json": FormatJSON, "/slack": FormatSlack, "/teams": FormatTeams, "/acmebot": FormatAcmebotGeneric, "/auto": FormatJSON}
	for _, req := range srv.requests() {
		body, err := want[req.path].Encode(renewed, "tegata-1")
		if err != nil {
			t.Fatal(err)
		}
		if req.body != string(body) {
			t.Errorf("%s body:\n got %s\nwant %s", req.path, req.body, body)
		}
		if ct := req.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s Content-Type %q", req.path, ct)
		}
		sig := req.header.Get(SignatureHeader)
		if req.path == "/json" {
			if err := Verify("s3cret", sig, []byte(req.body), time.Now(), time.Hour); err != nil {
				t.Errorf("signature: %v", err)
			}
		} else if sig != "" {
			t.Errorf("%s signed without a secret", req.path)
		}
		delete(want, req.path)
	}
	if len(want) != 0 {
		t.Errorf("no request for %v", want)
	}
	if s := h.n.Stats(); s != (Stats{Queued: 5, Delivered: 5}) {
		t.Errorf("Stats = %+v", s)
	}
}

func TestSendFillsIDAndTimeAndCopiesNames(t *testing.T) {
	srv := newServer(t)
	at := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, Options{Clock: func() time.Time { return at }, Webhooks: []Webhook{{URL: srv.URL}}})
	names := []string{"a.example"}
	if err := h.n.Send(context.Background(), Event{Type: EventIssued, Certificate: "a", Names: names}); err != nil {
		t.Fatal(err)
	}
	names[0] = "mutated.example"
	r := h.res.wait(t, 1)[0]
	if len(r.Event.ID) != 32 || !r.Event.Time.Equal(at) || r.Event.Names[0] != "a.example" {
		t.Errorf("event as delivered: %+v", r.Event)
	}
}

func TestRetryUntilSuccess(t *testing.T) {
	srv := newServer(t, answer{status: 500}, answer{status: 502, body: "bad gateway"})
	h := newHarness(t, Options{Webhooks: []Webhook{{URL: srv.URL}}})
	h.n.Send(context.Background(), renewed)
	r := h.res.wait(t, 1)[0]
	if r.Err != nil || r.Attempts != 3 || r.Status != 200 {
		t.Fatalf("result %+v", r)
	}
	if got, want := h.sleep.waits(), []time.Duration{40 * time.Second, 80 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	reqs := srv.requests()
	if len(reqs) != 3 || reqs[0].body != reqs[2].body {
		t.Errorf("%d requests; bodies must repeat unchanged", len(reqs))
	}
	if !strings.Contains(h.logs.String(), "webhook attempt failed; will retry") {
		t.Error("retry not logged")
	}
}

func TestGiveUpAfterAttempts(t *testing.T) {
	always := make([]answer, 10)
	for i := range always {
		always[i] = answer{status: 503, body: "down for maintenance"}
	}
	srv := newServer(t, always...)
	h := newHarness(t, Options{Webhooks: []Webhook{{Name: "ops", URL: srv.URL}}})
	h.n.Send(context.Background(), failed)
	r := h.res.wait(t, 1)[0]
	var se *StatusError
	if r.Attempts != 5 || !errors.As(r.Err, &se) || se.Status != 503 || se.Body != "down for maintenance" {
		t.Fatalf("result %+v", r)
	}
	if !strings.Contains(r.Err.Error(), "gave up after 5 attempts") {
		t.Errorf("error %q does not say it gave up", r.Err)
	}
	waits := h.sleep.waits()
	var total time.Duration
	for _, w := range waits {
		total += w
	}
	if want := []time.Duration{40 * time.Second, 80 * time.Second, 160 * time.Second, 320 * time.Second}; !slices.Equal(waits, want) || total != 10*time.Minute {
		t.Errorf("waits %v (total %s), want %v over 10m", waits, total, want)
	}
	if len(srv.requests()) != 5 {
		t.Errorf("%d requests, want 5", len(srv.requests()))
	}
	if s := h.n.Stats(); s.Failed != 1 || s.Delivered != 0 {
		t.Errorf("Stats = %+v", s)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "webhook delivery failed") || !strings.Contains(logs, "webhook=ops") {
		t.Errorf("give-up not logged:\n%s", logs)
	}
}

func TestFinalAnswersNotRetried(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 410, 413, 301, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			hdr := map[string]string{}
			if status >= 300 && status < 400 {
				hdr["Location"] = "https://elsewhere.example/hook"
			}
			srv := newServer(t, answer{status: status, header: hdr})
			h := newHarness(t, Options{Webhooks: []Webhook{{URL: srv.URL}}})
			h.n.Send(context.Background(), renewed)
			r := h.res.wait(t, 1)[0]
			if r.Attempts != 1 || r.Status != status || r.Err == nil {
				t.Errorf("result %+v, want one failed attempt", r)
			}
			if w := h.sleep.waits(); len(w) != 0 {
				t.Errorf("waited %v", w)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		first    answer
		attempts int
		waits    []time.Duration
		gaveUp   string
	}{
		{"429 seconds", answer{status: 429, header: map[string]string{"Retry-After": "7"}}, 2, []time.Duration{7 * time.Second}, ""},
		{"429 HTTP date", answer{status: 429, header: map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}}, 2, []time.Duration{90 * time.Second}, ""},
		{"429 without Retry-After: backoff", answer{status: 429}, 2, []time.Duration{40 * time.Second}, ""},
		{"429 malformed Retry-After: backoff", answer{status: 429, header: map[string]string{"Retry-After": "soon"}}, 2, []time.Duration{40 * time.Second}, ""},
		{"429 date in the past: backoff", answer{status: 429, header: map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}}, 2, []time.Duration{40 * time.Second}, ""},
		{"503 with Retry-After", answer{status: 503, header: map[string]string{"Retry-After": "120"}}, 2, []time.Duration{2 * time.Minute}, ""},
		{"429 asking too much: give up", answer{status: 429, header: map[string]string{"Retry-After": "86400"}}, 1, nil, "exceeds the 15m0s limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.first)
			h := newHarness(t, Options{Clock: func() time.Time { return now }, Webhooks: []Webhook{{URL: srv.URL}}})
			h.n.Send(context.Background(), renewed)
			r := h.res.wait(t, 1)[0]
			if r.Attempts != tt.attempts {
				t.Errorf("%d attempts, want %d (%v)", r.Attempts, tt.attempts, r.Err)
			}
			if got := h.sleep.waits(); !slices.Equal(got, tt.waits) {
				t.Errorf("waits %v, want %v", got, tt.waits)
			}
			if tt.gaveUp == "" && r.Err != nil {
				t.Errorf("not delivered: %v", r.Err)
			}
			if tt.gaveUp != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), tt.gaveUp)) {
				t.Errorf("error %v, want %q", r.Err, tt.gaveUp)
			}
		})
	}
}

func TestQueueOverflowDoesNotBlock(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 100)
	var served atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		served.Add(1)
	}))
	defer srv.Close()
	h := newHarness(t, Options{QueueSize: 2, Webhooks: []Webhook{{Name: "slow", URL: srv.URL}, {Name: "filtered", URL: srv.URL, Events: []EventType{EventExpired}}}})
	ctx := context.Background()
	if err := h.n.Send(ctx, renewed); err != nil {
		t.Fatal(err)
	}
	<-arrived // the worker is now stuck in the first request
	var full int
	for i := 0; i < 10; i++ {
		if err := h.n.Send(ctx, renewed); errors.Is(err, ErrQueueFull) {
			full++
			if !strings.Contains(err.Error(), "slow") || strings.Contains(err.Error(), "filtered") {
				t.Errorf("error %q should name only the full webhook", err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if full != 8 {
		t.Errorf("%d sends reported a full queue, want 8 (2 queued behind the stuck one)", full)
	}
	if s := h.n.Stats(); s.Dropped != 8 || s.Queued != 3 {
		t.Errorf("Stats = %+v, want 3 queued, 8 dropped", s)
	}
	if logs := h.logs.String(); strings.Count(logs, "webhook queue full") != 1 || !strings.Contains(logs, "dropped_total=1") {
		t.Errorf("overflow should be logged once for the first drop:\n%s", logs)
	}
	close(release)
	if err := h.n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if served.Load() != 3 {
		t.Errorf("served %d, want the 3 queued events", served.Load())
	}
}

func TestCloseDrains(t *testing.T) {
	// Every event fails once before it is accepted.
	var script []answer
	for i := 0; i < 20; i++ {
		script = append(script, answer{status: 500}, answer{status: 200})
	}
	srv := newServer(t, script...)
	h := newHarness(t, Options{Webhooks: []Webhook{{URL: srv.URL}}})
	for i := 0; i < 20; i++ {
		e := renewed
		e.Certificate = fmt.Sprint("c", i)
		if err := h.n.Send(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := h.n.Stats(); s.Delivered != 20 || s.Failed != 0 {
		t.Errorf("after Close: %+v, want 20 delivered", s)
	}
	// Delivered in order.
	var got []string
	for _, r := range h.res.wait(t, 20) {
		got = append(got, r.Event.Certificate)
	}
	for i, c := range got {
		if c != fmt.Sprint("c", i) {
			t.Fatalf("delivery order %v", got)
		}
	}
	if err := h.n.Send(context.Background(), renewed); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	if err := h.n.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseGivesUpWhenContextEnds(t *testing.T) {
	srv := newServer(t, answer{status: 500}, answer{status: 500}, answer{status: 500})
	blocked := make(chan struct{}, 1)
	h := newHarness(t, Options{
		Webhooks: []Webhook{{URL: srv.URL}},
		Sleep: func(ctx context.Context, d time.Duration) error {
			blocked <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		},
	})
	for i := 0; i < 3; i++ {
		h.n.Send(context.Background(), renewed)
	}
	<-blocked // first delivery waits to retry
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.n.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	rs := h.res.wait(t, 3)
	for _, r := range rs {
		if r.Err == nil || !strings.Contains(r.Err.Error(), "abandoned") {
			t.Errorf("result %+v, want abandoned", r)
		}
	}
	if s := h.n.Stats(); s.Failed != 3 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestEventFilters(t *testing.T) {
	srv := newServer(t)
	h := newHarness(t, Options{Webhooks: []Webhook{
		{URL: srv.URL + "/failures", Events: []EventType{EventFailed, EventExpiring}},
		{URL: srv.URL + "/acmebot", Format: FormatAcmebotSlack},
	}})
	for _, typ := range EventTypes {
		e := renewed
		e.Type = typ
		h.n.Send(context.Background(), e)
	}
	h.n.Close(context.Background())
	got := map[string][]string{}
	for _, r := range srv.requests() {
		got[r.path] = append(got[r.path], r.body)
	}
	if len(got["/failures"]) != 2 {
		t.Errorf("filtered webhook got %d events, want 2", len(got["/failures"]))
	}
	if len(got["/acmebot"]) != 3 {
		t.Errorf("acmebot webhook got %d events, want issued, renewed, failed", len(got["/acmebot"]))
	}
}
