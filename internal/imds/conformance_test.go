package imds

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/instance"
)

const testVMID = "3f1c8a52-6d0e-4b7a-9c2f-1e5d7a9b0c11"

var testNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// newTestServer returns a server for the generated instance with a fixed clock; edit
// changes the configuration first.
func newTestServer(t testing.TB, edit func(*Config)) *Server {
	t.Helper()
	cfg := DefaultConfig()
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(Options{Config: cfg, Inventory: instance.Single(instance.Generated(testVMID)), Clock: func() time.Time { return testNow }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// do sends one request through the handler as a VM at 10.0.0.4 would.
func do(s *Server, method, target string, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = "10.0.0.4:40000"
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

var md = map[string]string{"Metadata": "true"}

const (
	bodyBadRequest    = `{ "error": "Bad request" }`
	bodyMissingHeader = `{ "error": "Bad request: . Required metadata header not specified" }`
	bodyBadVersion    = `{ "error": "Bad request. api-version is invalid or was not specified in the request. For more information refer to aka.ms/azureimds", "newest-versions": [ "2025-04-07", "2024-07-17", "2024-03-15" ] }`
	bodyNotFound      = `{ "error": "Not found" }`
	bodyMethod        = `{ "error": "Method not allowed" }`
)

// TestConformance walks the contract table of docs/imds.md: every status, every error
// body, version gates, formats, filters, methods and the gate's order.
func TestConformance(t *testing.T) {
	s := newTestServer(t, nil)
	tests := []struct {
		name     string
		method   string
		target   string
		header   map[string]string
		status   int
		body     string // exact, when set
		contains string // substring, when set
		ctype    string // exact Content-Type, when set
	}{
		// The gate.
		{name: "outside /metadata is IIS", target: "/", status: 404, contains: "<title>404 - File or directory not found.</title>", ctype: "text/html"},
		{name: "outside /metadata ignores header", target: "/latest/meta-data/", header: md, status: 404, ctype: "text/html"},
		{name: "/metadata itself", target: "/metadata", header: md, status: 404, body: bodyNotFound},
		{name: "unknown category", target: "/metadata/nothing?api-version=2021-02-01", header: md, status: 404, body: bodyNotFound},
		{name: "missing header", target: "/metadata/instance?api-version=2021-02-01", status: 400, body: bodyMissingHeader, ctype: "application/json; charset=utf-8"},
		{name: "header false", target: "/metadata/instance?api-version=2021-02-01", header: map[string]string{"Metadata": "false"}, status: 400, body: bodyMissingHeader},
		{name: "header 1", target: "/metadata/instance?api-version=2021-02-01", header: map[string]string{"Metadata": "1"}, status: 400, body: bodyMissingHeader},
		{name: "header True (WALinuxAgent)", target: "/metadata/instance/compute/vmId?api-version=2018-02-01&format=text", header: map[string]string{"Metadata": "True"}, status: 200, body: testVMID},
		{name: "header with spaces", target: "/metadata/instance/compute/vmId?api-version=2018-02-01&format=text", header: map[string]string{"Metadata": " true "}, status: 200, body: testVMID},
		{name: "header checked before api-version", target: "/metadata/instance", status: 400, body: bodyMissingHeader},
		{name: "X-Forwarded-For", target: "/metadata/instance?api-version=2021-02-01", header: map[string]string{"Metadata": "true", "X-Forwarded-For": "10.0.0.9"}, status: 400, body: bodyBadRequest},
		{name: "X-Forwarded-For empty", target: "/metadata/instance?api-version=2021-02-01", header: map[string]string{"Metadata": "true", "X-Forwarded-For": ""}, status: 400, body: bodyBadRequest},
		{name: "X-Forwarded-For before header check", target: "/metadata/instance?api-version=2021-02-01", header: map[string]string{"X-Forwarded-For": "1.2.3.4"}, status: 400, body: bodyBadRequest},
		{name: "duplicate api-version", target: "/metadata/instance?api-version=2021-02-01&api-version=2021-02-01", header: md, status: 400, body: bodyBadRequest},
		{name: "duplicate after decoding", target: "/metadata/instance?format=json&%66ormat=json&api-version=2021-02-01", header: md, status: 400, body: bodyBadRequest},
		{name: "duplicate before version check", target: "/metadata/instance?x=1&x=2", header: md, status: 400, body: bodyBadRequest},
		{name: "bad escape", target: "/metadata/instance?api-version=%zz", header: md, status: 400, body: bodyBadRequest},
		{name: "unknown parameter ignored", target: "/metadata/instance/compute/vmId?api-version=2021-02-01&format=text&foo=bar", header: md, status: 200, body: testVMID},
		{name: "version= is not api-version", target: "/metadata/instance?version=2021-02-01", header: md, status: 400, body: bodyBadVersion},

		// Methods.
		{name: "PUT instance", method: "PUT", target: "/metadata/instance?api-version=2021-02-01", header: md, status: 405, body: bodyMethod},
		{name: "DELETE instance", method: "DELETE", target: "/metadata/instance?api-version=2021-02-01", header: md, status: 405, body: bodyMethod},
		{name: "POST instance", method: "POST", target: "/metadata/instance?api-version=2021-02-01", header: md, status: 405, body: bodyMethod},
		{name: "HEAD instance", method: "HEAD", target: "/metadata/instance?api-version=2021-02-01", header: md, status: 405},
		{name: "PATCH versions", method: "PATCH", target: "/metadata/versions", header: md, status: 405, body: bodyMethod},
		{name: "method checked before api-version", method: "PUT", target: "/metadata/instance", header: md, status: 405, body: bodyMethod},

		// api-version.
		{name: "missing api-version", target: "/metadata/instance", header: md, status: 400, body: bodyBadVersion, ctype: "application/json; charset=utf-8"},
		{name: "unknown api-version", target: "/metadata/instance?api-version=2017-07-01", header: md, status: 400, body: bodyBadVersion},
		{name: "garbage api-version", target: "/metadata/instance?api-version=latest", header: md, status: 400, body: bodyBadVersion},
		{name: "version error is JSON for format=text", target: "/metadata/instance/compute/location?format=text", header: md, status: 400, body: bodyBadVersion, ctype: "application/json; charset=utf-8"},
		{name: "2017-03-01 on instance", target: "/metadata/instance/compute/vmId?api-version=2017-03-01&format=text", header: md, status: 200, body: testVMID},
		{name: "2025-04-07 accepted (systemd hwdb)", target: "/metadata/instance/compute/location?api-version=2025-04-07&format=text", header: md, status: 200, body: "westeurope"},
		{name: "2025-11-15 not listed", target: "/metadata/instance?api-version=2025-11-15", header: md, status: 400, body: bodyBadVersion},
		{name: "loadbalancer below 2020-10-01", target: "/metadata/loadbalancer?api-version=2020-09-01", header: md, status: 400, body: bodyBadVersion},
		{name: "attested below 2018-10-01", target: "/metadata/attested/document?api-version=2018-04-02", header: md, status: 400, body: bodyBadVersion},
		{name: "scheduledevents global-only version", target: "/metadata/scheduledevents?api-version=2021-02-01", header: md, status: 400, body: bodyBadVersion},
		{name: "scheduledevents own version", target: "/metadata/scheduledevents?api-version=2019-01-01", header: md, status: 200, body: `{"DocumentIncarnation":1,"Events":[]}`},
		{name: "scheduledevents missing version", target: "/metadata/scheduledevents", header: md, status: 400, body: bodyBadVersion},

		// versions.
		{name: "versions without api-version", target: "/metadata/versions", header: md, status: 200, contains: `{"apiVersions":["2017-03-01","2017-04-02","2017-08-01",`},
		{name: "versions needs header", target: "/metadata/versions", status: 400, body: bodyMissingHeader},
		{name: "versions sub-path", target: "/metadata/versions/x", header: md, status: 404, body: bodyNotFound},

		// Formats and the leaf rule.
		{name: "leaf without format", target: "/metadata/instance/compute/vmSize?api-version=2018-10-01", header: md, status: 400, body: bodyBadRequest},
		{name: "leaf with format=json", target: "/metadata/instance/compute/vmId?api-version=2018-04-02&format=json", header: md, status: 400, body: bodyBadRequest},
		{name: "leaf text", target: "/metadata/instance/compute/vmSize?api-version=2018-10-01&format=text", header: md, status: 200, body: "Standard_D2s_v5", ctype: "text/plain; charset=utf-8"},
		{name: "empty leaf text", target: "/metadata/instance/compute/customData?api-version=2019-02-01&format=text", header: md, status: 200, body: "", ctype: "text/plain; charset=utf-8"},
		{name: "zone before 2017-12-01", target: "/metadata/instance/compute/zone?api-version=2017-08-01&format=text", header: md, status: 404, body: bodyNotFound},
		{name: "unknown format", target: "/metadata/instance?api-version=2021-02-01&format=xml", header: md, status: 400, body: bodyBadRequest},
		{name: "object text lists children", target: "/metadata/instance/network/interface/0?api-version=2017-08-01&format=text", header: md, status: 200, body: "ipv4/\nipv6/\nmacAddress"},
		{name: "array text lists positions", target: "/metadata/instance/network/interface?api-version=2017-08-01&format=text", header: md, status: 200, body: "0/"},
		{name: "top-level text", target: "/metadata/instance?api-version=2017-08-01&format=text", header: md, status: 200, body: "compute/\nnetwork/"},
		{name: "text on loadbalancer", target: "/metadata/loadbalancer?api-version=2020-10-01&format=text", header: md, status: 400, contains: "Unexpected request"},
		{name: "text on scheduledevents", target: "/metadata/scheduledevents?api-version=2020-07-01&format=text", header: md, status: 400, body: bodyBadRequest},
		{name: "json on scheduledevents", target: "/metadata/scheduledevents?api-version=2020-07-01&format=json", header: md, status: 200},

		// Route filtering.
		{name: "trailing slash (old WALinuxAgent)", target: "/metadata/instance/?api-version=2018-02-01", header: md, status: 200, contains: `{"compute":{`},
		{name: "subtree", target: "/metadata/instance/compute/plan?api-version=2018-04-02", header: md, status: 200, body: `{"name":"","product":"","publisher":""}`},
		{name: "array index", target: "/metadata/instance/network/interface/0/macAddress?api-version=2017-08-01&format=text", header: md, status: 200},
		{name: "array index out of range", target: "/metadata/instance/network/interface/1?api-version=2017-08-01", header: md, status: 404, body: bodyNotFound},
		{name: "array index negative", target: "/metadata/instance/network/interface/-1?api-version=2017-08-01", header: md, status: 404, body: bodyNotFound},
		{name: "array index not a number", target: "/metadata/instance/network/interface/first?api-version=2017-08-01", header: md, status: 404, body: bodyNotFound},
		{name: "array index leading zero", target: "/metadata/instance/network/interface/00?api-version=2017-08-01", header: md, status: 404, body: bodyNotFound},
		{name: "missing key", target: "/metadata/instance/compute/nothing?api-version=2021-02-01", header: md, status: 404, body: bodyNotFound},
		{name: "key case-sensitive", target: "/metadata/instance/compute/VMID?api-version=2021-02-01&format=text", header: md, status: 404, body: bodyNotFound},
		{name: "key absent at version", target: "/metadata/instance/compute/tagsList?api-version=2019-06-01", header: md, status: 404, body: bodyNotFound},
		{name: "key present at version", target: "/metadata/instance/compute/tagsList?api-version=2019-06-04", header: md, status: 200, body: `[{"name":"env","value":"dev"},{"name":"owner","value":"platform"}]`},
		{name: "userData before 2021-01-01", target: "/metadata/instance/compute/userData?api-version=2020-12-01&format=text", header: md, status: 404, body: bodyNotFound},
		{name: "double slash", target: "/metadata/instance/compute//vmId?api-version=2021-02-01&format=text", header: md, status: 404, body: bodyNotFound},
		{name: "below a leaf", target: "/metadata/instance/compute/vmId/x?api-version=2021-02-01&format=text", header: md, status: 404, body: bodyNotFound},

		// extended.
		{name: "extended", target: "/metadata/instance/extended?api-version=2021-08-01&extended=true", header: md, status: 200, body: `{"compute":{"hasCustomData":false,"ppsType":"None"}}`},
		{name: "not extended", target: "/metadata/instance/extended?api-version=2021-08-01", header: md, status: 404, body: bodyNotFound},

		// Load balancer, attested, identity.
		{name: "loadbalancer", target: "/metadata/loadbalancer?api-version=2020-10-01", header: md, status: 200, contains: `{"loadbalancer":{"publicIpAddresses":[`},
		{name: "loadbalancer sub-path", target: "/metadata/loadbalancer/x?api-version=2020-10-01", header: md, status: 404, body: bodyNotFound},
		{name: "attested unconfigured", target: "/metadata/attested/document?api-version=2020-09-01", header: md, status: 404, body: bodyNotFound},
		{name: "attested bad nonce", target: "/metadata/attested/document?api-version=2020-09-01&nonce=" + strings.Repeat("a", 33), header: md, status: 400, body: bodyBadRequest},
		{name: "attested other path", target: "/metadata/attested/other?api-version=2020-09-01", header: md, status: 404, body: bodyNotFound},
		{name: "identity probe", target: "/metadata/identity/oauth2/token", status: 400, body: `{"error":"invalid_request","error_description":"Required metadata header not specified"}`, ctype: "application/json; charset=utf-8"},
		{name: "identity missing resource", target: "/metadata/identity/oauth2/token?api-version=2018-02-01", header: md, status: 400, body: `{"error":"invalid_request","error_description":"Required query variable 'resource' is missing"}`},
		{name: "identity selectors exclusive", target: "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=x&client_id=a&object_id=b", header: md, status: 400, body: `{"error":"invalid_request","error_description":"client_id, object_id and msi_res_id are mutually exclusive"}`},
		{name: "identity version floor", target: "/metadata/identity/oauth2/token?api-version=2017-12-01&resource=x", header: md, status: 400, body: bodyBadVersion},
		{name: "identity info", target: "/metadata/identity/info?api-version=2018-02-01", header: md, status: 200, contains: `{"tenantId":"`},
		{name: "identity unknown path", target: "/metadata/identity/other?api-version=2018-02-01", header: md, status: 404, body: bodyNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.method
			if m == "" {
				m = http.MethodGet
			}
			w := do(s, m, tt.target, tt.header)
			body := w.Body.String()
			if w.Code != tt.status {
				t.Fatalf("%s %s: status %d, want %d; body %q", m, tt.target, w.Code, tt.status, body)
			}
			if tt.body != "" && body != tt.body {
				t.Errorf("body\n got %q\nwant %q", body, tt.body)
			}
			if tt.contains != "" && !strings.Contains(body, tt.contains) {
				t.Errorf("body %q does not contain %q", body, tt.contains)
			}
			if tt.ctype != "" && w.Header().Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", w.Header().Get("Content-Type"), tt.ctype)
			}
			if w.Header().Get("Content-Type") != "text/html" {
				if got := w.Header().Get("Server"); got != "IMDS/150.870.65.1854" {
					t.Errorf("Server %q", got)
				}
				if id := w.Header()["x-ms-request-id"]; len(id) != 1 || len(id[0]) != 36 {
					t.Errorf("x-ms-request-id %q: want one lower-case UUID", id)
				}
			}
			if m != http.MethodHead && strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") && body != "" {
				if !json.Valid([]byte(body)) {
					t.Errorf("body is not valid JSON: %q", body)
				}
				if strings.HasSuffix(body, "\n") {
					t.Errorf("body ends with a newline")
				}
			}
		})
	}
}
