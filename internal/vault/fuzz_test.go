package vault_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzServe sends authenticated requests with arbitrary methods, paths, queries and
// bodies: the vault must never panic and never answer 5xx (a 5xx would mean input
// reached a path that fails inside instead of being refused).
func FuzzServe(f *testing.F) {
	h := newHarness(f, harnessOptions{})
	token := h.token(claims{})
	seed := func(method, path, body string) { f.Add(method, path, []byte(body)) }
	seed("PUT", "/secrets/s1?api-version=7.4", `{"value":"v","tags":{"a":"b"},"attributes":{"enabled":false,"exp":1}}`)
	seed("GET", "/secrets/s1/?api-version=7.4&outContentType=application/x-pem-file", "")
	seed("PATCH", "/secrets/s1/?api-version=7.4", `{"contentType":"x","attributes":{"nbf":5,"exp":1}}`)
	seed("GET", "/secrets?api-version=7.4&maxresults=1&$skiptoken=YQ.AAAA", "")
	seed("DELETE", "/secrets/s1?api-version=7.4", "")
	seed("POST", "/deletedsecrets/s1/recover?api-version=7.4", "")
	seed("POST", "/certificates/c1/create?api-version=2025-07-01", `{"policy":{"issuer":{"name":"Unknown"},"key_props":{"kty":"EC","crv":"P-256"},"x509_props":{"subject":"CN=a","sans":{"dns_names":["a"]}}}}`)
	seed("POST", "/certificates/c1/pending/merge?api-version=7.4", `{"x5c":["MIIB"]}`)
	seed("POST", "/certificates/c2/import?api-version=7.4", `{"value":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----","policy":{"secret_props":{"contentType":"application/x-pem-file"}}}`)
	seed("PATCH", "/certificates/c1/policy?api-version=7.4", `{"key_props":{"kty":"RSA","key_size":1024}}`)
	seed("PATCH", "/certificates/c1/pending?api-version=7.4", `{"cancellation_requested":true}`)
	seed("GET", "/certificates?includePending=true&api-version=7.4", "")
	seed("GET", "/deletedcertificates/c1?api-version=7.6-preview.2", "")
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "https://kv1."+domain+path, bytes.NewReader(body))
		if err != nil {
			return // not an HTTP request a server could receive
		}
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.v.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
	})
}
