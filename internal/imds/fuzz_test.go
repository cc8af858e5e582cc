package imds

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzServe sends arbitrary paths, queries, methods and Metadata headers through the
// whole handler: the route filter, the query parser and every endpoint. No input may
// panic or earn a 5xx.
func FuzzServe(f *testing.F) {
	seeds := [][4]string{
		{"GET", "/metadata/instance/compute/vmId", "api-version=2017-08-01&format=text", "true"},
		{"GET", "/metadata/instance/network/interface/0/ipv4/ipAddress/0", "api-version=2021-02-01", "True"},
		{"GET", "/metadata/instance/", "api-version=2018-02-01&extended=true", "true"},
		{"POST", "/metadata/scheduledevents", "api-version=2020-07-01", "true"},
		{"GET", "/metadata/identity/oauth2/token", "api-version=2018-02-01&resource=x&client_id=y", "true"},
		{"GET", "/metadata/attested/document", "api-version=2020-09-01&nonce=abc", "true"},
		{"GET", "/metadata/versions", "", ""},
		{"PUT", "/metadata/instance/compute/tagsList/99999999999", "api-version=2019-06-04&api-version=1", "false"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3])
	}
	s := newTestServer(f, nil)
	f.Fuzz(func(t *testing.T, method, path, rawQuery, header string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		r := httptest.NewRequest(http.MethodGet, "/", strings.NewReader(`{"StartRequests":[]}`))
		r.Method = method
		r.URL.Path = path
		r.URL.RawQuery = rawQuery
		r.RemoteAddr = "10.0.0.4:1"
		r.Header.Set("Metadata", header)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s %s?%s: status %d, body %q", method, path, rawQuery, w.Code, w.Body.String())
		}
	})
}
