package notify

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink safe for the webhook goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sleeper records the waits between attempts and returns at once.
type sleeper struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// results collects delivery outcomes.
type results struct{ ch chan Result }

func newResults() *results { return &results{ch: make(chan Result, 1000)} }

func (r *results) On(res Result) { r.ch <- res }

// wait returns the next n results. The timeout only guards against a hang.
func (r *results) wait(t *testing.T, n int) []Result {
	t.Helper()
	var out []Result
	for len(out) < n {
		select {
		case res := <-r.ch:
			out = append(out, res)
		case <-time.After(30 * time.Second):
			t.Fatalf("got %d of %d delivery results", len(out), n)
		}
	}
	return out
}

// request is one request a test server received.
type request struct {
	path   string
	header http.Header
	body   string
}

// answer is a scripted response.
type answer struct {
	status int
	header map[string]string
	body   string
}

// server is a webhook receiver answering from a script; past its end it
// answers 200.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	script []answer
	reqs   []request
}

func newServer(t *testing.T, script ...answer) *server {
	s := &server{script: script}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	i := len(s.reqs)
	s.reqs = append(s.reqs, request{r.URL.Path, r.Header.Clone(), string(body)})
	a := answer{status: http.StatusOK}
	if i < len(s.script) {
		a = s.script[i]
	}
	s.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func (s *server) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.reqs...)
}

// harness builds a Notifier with a fake sleeper, a log buffer and a result
// collector, and closes it at the end of the test.
type harness struct {
	n     *Notifier
	sleep *sleeper
	logs  *syncBuffer
	res   *results
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	h := &harness{sleep: &sleeper{}, logs: &syncBuffer{}, res: newResults()}
	if opts.Sleep == nil {
		opts.Sleep = h.sleep.Sleep
	}
	opts.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.OnResult = h.res.On
	n, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.n = n
	t.Cleanup(func() { n.Close(context.Background()) })
	return h
}
