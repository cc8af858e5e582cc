package imds

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/events"
	"github.com/tegata-project/tegata/internal/instance"
)

// TestWireBytes reads a raw HTTP/1.1 answer off a real socket: the header names and
// body bytes a client sees, not what a Go client normalises.
func TestWireBytes(t *testing.T) {
	s := newTestServer(t, nil)
	ts := httptest.NewServer(s)
	defer ts.Close()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /metadata/instance/compute/vmId?api-version=2017-08-01&format=text HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata: true\r\nConnection: close\r\n\r\n")
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	head, body, ok := strings.Cut(string(raw), "\r\n\r\n")
	if !ok {
		t.Fatalf("no header end in %q", raw)
	}
	for _, want := range []string{"HTTP/1.1 200 OK\r\n", "\r\nServer: IMDS/150.870.65.1854\r\n", "\r\nx-ms-request-id: ", "\r\nContent-Length: 36\r\n", "\r\nContent-Type: text/plain; charset=utf-8\r\n"} {
		if !strings.Contains(head+"\r\n", want) {
			t.Errorf("header block lacks %q:\n%s", want, head)
		}
	}
	if body != testVMID {
		t.Errorf("body %q, want %q exactly (no newline)", body, testVMID)
	}
}

func TestRequestIDsAreFreshUUIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := requestIDHeader()[0]
		if len(id) != 36 || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) || strings.ToLower(id) != id {
			t.Fatalf("request id %q is not a lower-case version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("request id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestCompatSwitches(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Config)
		method string
		target string
		header map[string]string
		status int
		body   string
	}{
		{"legacy404", func(c *Config) { c.Compat.InvalidVersionMode = "legacy404" }, "GET", "/metadata/instance?api-version=2017-07-01", md, 404, `{ "error": "Not found. Invalid version requested" }`},
		{"legacy404 keeps 400 for a missing version", func(c *Config) { c.Compat.InvalidVersionMode = "legacy404" }, "GET", "/metadata/instance", md, 400, bodyBadVersion},
		{"strict identity header", func(c *Config) { c.Compat.StrictIdentityMetadataHeader = true }, "GET", "/metadata/identity/info?api-version=2018-02-01", map[string]string{"Metadata": "True"}, 400, `{"error":"invalid_request","error_description":"Required metadata header not specified"}`},
		{"strict identity header spares instance", func(c *Config) { c.Compat.StrictIdentityMetadataHeader = true }, "GET", "/metadata/instance/compute/vmId?api-version=2021-02-01&format=text", map[string]string{"Metadata": "True"}, 200, testVMID},
		{"allow HEAD", func(c *Config) { c.Compat.AllowHEAD = true }, "HEAD", "/metadata/instance?api-version=2021-02-01", md, 200, ""},
		{"versions endpoint off", func(c *Config) { c.Compat.VersionsEndpoint = false }, "GET", "/metadata/versions", md, 404, bodyNotFound},
		{"versions without header", func(c *Config) { c.Compat.VersionsRequireHeader = false }, "GET", "/metadata/versions", nil, 200, ""},
		{"reject extended", func(c *Config) { c.Compat.RejectExtended = true }, "GET", "/metadata/instance?api-version=2021-08-01&extended=true", md, 400, bodyBadRequest},
		{"case-insensitive keys", func(c *Config) { c.Compat.CaseInsensitiveKeys = true }, "GET", "/metadata/instance/Compute/VMID?api-version=2021-02-01&format=text", md, 200, testVMID},
		{"trust X-Forwarded-For", func(c *Config) { c.Compat.TrustForwardedFor = true }, "GET", "/metadata/instance/compute/vmId?api-version=2021-02-01&format=text", map[string]string{"Metadata": "true", "X-Forwarded-For": "10.0.0.9"}, 200, testVMID},
		{"extra version", func(c *Config) { c.Compat.APIVersions = append(c.Compat.APIVersions, "2025-11-15") }, "GET", "/metadata/instance/compute/vmId?api-version=2025-11-15&format=text", md, 200, testVMID},
		{"error override", func(c *Config) {
			c.Errors = map[ErrorID]ErrorReply{ErrMissingHeader: {400, `{ "error": "Bad request. Required metadata header not specified" }`}}
		}, "GET", "/metadata/instance?api-version=2021-02-01", nil, 400, `{ "error": "Bad request. Required metadata header not specified" }`},
		{"error override with newest versions", func(c *Config) {
			c.Errors = map[ErrorID]ErrorReply{ErrBadAPIVersion: {400, `{"newest":[%s]}`}}
		}, "GET", "/metadata/instance", md, 400, `{"newest":["2025-04-07", "2024-07-17", "2024-03-15"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, tt.edit)
			w := do(s, tt.method, tt.target, tt.header)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d (body %q)", w.Code, tt.status, w.Body.String())
			}
			if tt.body != "" && w.Body.String() != tt.body {
				t.Errorf("body %q, want %q", w.Body.String(), tt.body)
			}
		})
	}
}

func TestEchoClientRequestID(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Compat.EchoClientRequestID = true })
	w := do(s, "GET", "/metadata/versions", map[string]string{"Metadata": "true", "x-ms-client-request-id": "abc-123"})
	if got := w.Header()["x-ms-client-request-id"]; len(got) != 1 || got[0] != "abc-123" {
		t.Fatalf("x-ms-client-request-id = %q, want echoed", got)
	}
	s = newTestServer(t, nil)
	if got := do(s, "GET", "/metadata/versions", map[string]string{"Metadata": "true", "x-ms-client-request-id": "abc"}).Header()["x-ms-client-request-id"]; got != nil {
		t.Fatalf("echoed by default: %q", got)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Listen = "nonsense" }, "imds.listen"},
		{func(c *Config) { c.AdminListen = c.Listen }, "imds.admin_listen: must differ"},
		{func(c *Config) { c.Compat.APIVersions = []string{"2021-2-1"} }, "imds.compat.api_versions[0]"},
		{func(c *Config) { c.Compat.InvalidVersionMode = "x" }, "invalid_version_mode"},
		{func(c *Config) { c.Events.Timing = "slow" }, "imds.events.timing"},
		{func(c *Config) { c.RateLimit = RateLimitConfig{Enabled: true} }, "imds.rate_limit"},
		{func(c *Config) { c.Errors = map[ErrorID]ErrorReply{"E99": {400, ""}} }, `unknown error id "E99"`},
		{func(c *Config) { c.Errors = map[ErrorID]ErrorReply{"E1": {99, ""}} }, "imds.errors.E1.status"},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		tt.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want an error mentioning %q", err, tt.want)
		}
	}
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestRateLimits(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.RateLimit.Enabled = true })
	var codes []int
	for range 7 {
		codes = append(codes, do(s, "GET", "/metadata/versions", md).Code)
	}
	if fmt.Sprint(codes) != "[200 200 200 200 200 429 429]" {
		t.Fatalf("7 requests at once under 5/s: %v", codes)
	}
	if body := do(s, "GET", "/metadata/versions", md).Body.String(); body != `{ "error": "Too many requests" }` {
		t.Fatalf("429 body %q", body)
	}
	// Identity has its own, larger budget.
	ok := 0
	for range 25 {
		if do(s, "GET", "/metadata/identity/info?api-version=2018-02-01", md).Code == 200 {
			ok++
		}
	}
	if ok != 20 {
		t.Fatalf("identity: %d of 25 immediate requests passed, want 20", ok)
	}
}

func TestIdentityConcurrencyLimit(t *testing.T) {
	l := newLimiter(RateLimitConfig{Enabled: true, PerSecond: 5, IdentityPerSecond: 1000, IdentityConcurrent: 5})
	now := time.Now()
	var releases []func()
	for i := range 5 {
		rel, ok := l.admit("vm", true, now)
		if !ok {
			t.Fatalf("request %d of 5 in flight refused", i+1)
		}
		releases = append(releases, rel)
	}
	if _, ok := l.admit("vm", true, now); ok {
		t.Fatal("a 6th identity request in flight was admitted")
	}
	if _, ok := l.admit("other-vm", true, now); !ok {
		t.Fatal("another VM was refused: limits must be per VM")
	}
	releases[0]()
	if _, ok := l.admit("vm", true, now); !ok {
		t.Fatal("refused after one request ended")
	}
}

func TestFaults(t *testing.T) {
	s := newTestServer(t, nil)
	target := "/metadata/instance/compute/vmId?api-version=2021-02-01&format=text"
	if err := s.AddFault(&Fault{Status: 410, Count: 2, PathPrefix: "/metadata/instance"}); err != nil {
		t.Fatal(err)
	}
	var codes []int
	for range 3 {
		codes = append(codes, do(s, "GET", target, md).Code)
	}
	if fmt.Sprint(codes) != "[410 410 200]" {
		t.Fatalf("410 x2 fault: %v", codes)
	}
	if err := s.AddFault(&Fault{Status: 500, PathPrefix: "/metadata/identity"}); err != nil {
		t.Fatal(err)
	}
	if w := do(s, "GET", "/metadata/identity/info?api-version=2018-02-01", md); w.Code != 500 || !strings.Contains(w.Body.String(), `"error":"unknown"`) {
		t.Fatalf("identity 500 fault: %d %q", w.Code, w.Body.String())
	}
	if w := do(s, "GET", "/metadata/identity/oauth2/token", nil); w.Code != 400 {
		t.Fatalf("the header-less probe must be spared by default: got %d", w.Code)
	}
	if w := do(s, "GET", target, md); w.Code != 200 {
		t.Fatalf("other paths must be spared: got %d", w.Code)
	}
	s.faults.remove("")
	if err := s.AddFault(&Fault{Status: 429, Until: testNow.Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if w := do(s, "GET", target, md); w.Code != 200 {
		t.Fatalf("an expired fault hit: %d", w.Code)
	}
	for i, bad := range []*Fault{{Status: 418}, {}, {Status: 500, Rate: 2}, {Reset: true, Status: 500}, {Delay: Duration(time.Hour)}, {Status: 500, PathPrefix: "metadata"}} {
		if err := s.AddFault(bad); err == nil {
			t.Errorf("bad fault %d accepted", i)
		}
	}
}

func TestFaultDelayThenServe(t *testing.T) {
	s := newTestServer(t, nil)
	if err := s.AddFault(&Fault{Delay: Duration(50 * time.Millisecond), Count: 1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	w := do(s, "GET", "/metadata/versions", md)
	if w.Code != 200 || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("delay fault: status %d after %s", w.Code, time.Since(start))
	}
}

func TestFaultReset(t *testing.T) {
	s := newTestServer(t, nil)
	ts := httptest.NewServer(s)
	defer ts.Close()
	if err := s.AddFault(&Fault{Reset: true, Count: 1}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", ts.URL+"/metadata/versions", nil)
	req.Header.Set("Metadata", "true")
	if resp, err := ts.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("reset fault answered %d", resp.StatusCode)
	}
}

func TestScheduledEventsApproval(t *testing.T) {
	s := newTestServer(t, nil)
	book, err := s.Events().Book(s.Inventory().Default().Name)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := book.Add(specFor(t, "Reboot"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(body string) int {
		r := httptest.NewRequest("POST", "/metadata/scheduledevents?api-version=2020-07-01", strings.NewReader(body))
		r.RemoteAddr = "10.0.0.4:1"
		r.Header.Set("Metadata", "true")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Code
	}
	if c := post(`{"StartRequests":[{"EventId":"unknown"}]}`); c != 400 {
		t.Fatalf("unknown EventId: %d, want 400", c)
	}
	if c := post(`not json`); c != 400 {
		t.Fatalf("malformed body: %d, want 400", c)
	}
	if c := post(`{"StartRequests":[{"EventId":"` + strings.ToLower(ev.ID) + `"}]}`); c != 200 {
		t.Fatalf("approval: %d, want 200", c)
	}
	doc := do(s, "GET", "/metadata/scheduledevents?api-version=2020-07-01", md).Body.String()
	if !strings.Contains(doc, `"EventStatus":"Started"`) {
		t.Fatalf("after approval: %s", doc)
	}
}

func TestReloadKeepsOldInventoryOnError(t *testing.T) {
	calls := 0
	cfg := DefaultConfig()
	first := instance.Single(instance.Generated(testVMID))
	s, err := New(Options{Config: cfg, Inventory: first, Reload: func() (*instance.Inventory, error) {
		calls++
		if calls == 1 {
			return nil, errors.New("inventory.yaml:3:5: instances[0].compute.vmId: not a UUID")
		}
		return instance.Single(instance.Generated("11111111-2222-4333-8444-555555555555")), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "inventory.yaml:3:5") {
		t.Fatalf("bad reload: %v", err)
	}
	if got := do(s, "GET", "/metadata/instance/compute/vmId?api-version=2021-02-01&format=text", md).Body.String(); got != testVMID {
		t.Fatalf("after a bad reload serving %q, want the old %q", got, testVMID)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := do(s, "GET", "/metadata/instance/compute/vmId?api-version=2021-02-01&format=text", md).Body.String(); got != "11111111-2222-4333-8444-555555555555" {
		t.Fatalf("after a good reload serving %q", got)
	}
}

// TestConcurrentServeAndReload runs requests while the inventory is swapped, for the
// race detector.
func TestConcurrentServeAndReload(t *testing.T) {
	s, err := New(Options{Config: DefaultConfig(), Inventory: instance.Single(instance.Generated(testVMID)),
		Reload: func() (*instance.Inventory, error) { return instance.Single(instance.Generated(testVMID)), nil }})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if c := do(s, "GET", "/metadata/instance?api-version=2021-02-01", md).Code; c != 200 {
					t.Errorf("status %d", c)
					return
				}
			}
		}()
	}
	for range 20 {
		s.Reload()
	}
	wg.Wait()
}

func TestUnknownCaller(t *testing.T) {
	inv, err := instance.Parse("inv.yaml", []byte("instances:\n  - name: vm-a\n    network:\n      interface:\n        - macAddress: 000D3A000001\n          ipv4:\n            ipAddress:\n              - privateIpAddress: 10.1.0.4\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: DefaultConfig(), Inventory: inv})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/metadata/instance/compute/name?api-version=2021-02-01&format=text", nil)
	r.Header.Set("Metadata", "true")
	r.RemoteAddr = "10.1.0.4:5000"
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != "vm-a" {
		t.Fatalf("known caller: %d %q", w.Code, w.Body.String())
	}
	r.RemoteAddr = "10.1.0.5:5000"
	w = httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 404 {
		t.Fatalf("unknown caller: %d, want 404", w.Code)
	}
}

func TestAdminAPI(t *testing.T) {
	s := newTestServer(t, nil)
	admin := httptest.NewServer(s.AdminHandler(nil))
	defer admin.Close()
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, admin.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(bufio.NewReader(resp.Body))
		return resp.StatusCode, string(b)
	}
	if c, b := call("POST", "/admin/events", `{"type":"Freeze","not_before":"20m"}`); c != 201 || !strings.Contains(b, `"EventType":"Freeze"`) {
		t.Fatalf("add event: %d %s", c, b)
	}
	if c, b := call("POST", "/admin/events", `{"type":"Nap"}`); c != 400 || !strings.Contains(b, "Freeze, Reboot") {
		t.Fatalf("bad event type: %d %s", c, b)
	}
	if c, b := call("POST", "/admin/events", `{"type":"Freeze","bogus":1}`); c != 400 || !strings.Contains(b, "bogus") {
		t.Fatalf("unknown field: %d %s", c, b)
	}
	if c, b := call("POST", "/admin/events", `{"type":"Freeze","not_before":"soon"}`); c != 400 || !strings.Contains(b, "RFC 3339") {
		t.Fatalf("bad not_before: %d %s", c, b)
	}
	if c, b := call("GET", "/admin/events?instance=nope", ""); c != 404 || !strings.Contains(b, "GET /admin/instances") {
		t.Fatalf("unknown instance: %d %s", c, b)
	}
	if c, b := call("POST", "/admin/faults", `{"status":503,"count":1}`); c != 201 || !strings.Contains(b, `"id":"fault-`) {
		t.Fatalf("add fault: %d %s", c, b)
	}
	if w := do(s, "GET", "/metadata/versions", md); w.Code != 503 {
		t.Fatalf("503 fault: %d", w.Code)
	}
	if c, _ := call("DELETE", "/admin/faults", ""); c != 204 {
		t.Fatalf("clear faults: %d", c)
	}
	if c, b := call("POST", "/admin/inventory/reload", ""); c != 422 || !strings.Contains(b, "nothing to reload") {
		t.Fatalf("reload without a file: %d %s", c, b)
	}
	if c, b := call("GET", "/admin/requests", ""); c != 200 || !strings.Contains(b, `"path":"/metadata/versions"`) {
		t.Fatalf("request log: %d %s", c, b)
	}
	if c, b := call("GET", "/admin/instances", ""); c != 200 || !strings.Contains(b, `"10.0.0.4"`) {
		t.Fatalf("instances: %d %s", c, b)
	}
}

func specFor(t *testing.T, typ string) events.Spec {
	t.Helper()
	return events.Spec{Type: events.EventType(typ)}
}

func TestScheduledEventsFirstCallDelay(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Events.FirstCallDelay = 80 * time.Millisecond })
	// An abandoned first call is cut short: proof that the first call waits.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("GET", "/metadata/scheduledevents?api-version=2020-07-01", nil).WithContext(ctx)
	r.RemoteAddr = "10.0.0.4:1"
	r.Header.Set("Metadata", "true")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Body.Len() != 0 {
		t.Fatalf("abandoned first call answered %d %q: it did not wait", w.Code, w.Body.String())
	}
	// Later calls, even abandoned ones, answer at once.
	w = httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), `{"DocumentIncarnation":1`) {
		t.Fatalf("second call: %d %q, want an immediate answer", w.Code, w.Body.String())
	}
}
