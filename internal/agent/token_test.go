package agent

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestArcChallenge is C.3's Azure Arc flow: a 401 with a Basic realm naming
// a key file, answered with its contents; key files elsewhere are refused.
func TestArcChallenge(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "abc.key")
	if err := os.WriteFile(keyFile, []byte("arc-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	realm := keyFile
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Basic arc-secret" {
			w.Header().Set("WWW-Authenticate", "Basic realm="+realm)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"access_token":"arc-token","expires_in":"3600","token_type":"Bearer"}`))
	}))
	defer srv.Close()
	ts := &TokenSource{URL: srv.URL + "/metadata/identity/oauth2/token", ArcTokenDir: dir}
	tok, err := ts.Token(context.Background(), "https://vault.azure.net")
	if err != nil || tok != "arc-token" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	for _, bad := range []string{filepath.Join(t.TempDir(), "abc.key"), filepath.Join(dir, "abc.txt"), dir + "/../abc.key"} {
		realm = bad
		ts := &TokenSource{URL: srv.URL + "/metadata/identity/oauth2/token", ArcTokenDir: dir}
		if _, err := ts.Token(context.Background(), "https://vault.azure.net"); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("realm %s: %v, want a refusal", bad, err)
		}
	}
}

// TestTokenErrors checks the classification and hints of refusals.
func TestTokenErrors(t *testing.T) {
	var status int
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	for _, tc := range []struct {
		status   int
		body     string
		clientID string
		kind     ErrorKind
		hint     string
	}{
		{400, `{"error":"invalid_request","error_description":"Identity not found"}`, "", KindToken, "set authenticationSettings.msiClientId"},
		{400, `{"error":"invalid_request","error_description":"Identity not found"}`, "0000", KindToken, "no identity with client id 0000"},
		{404, `not here`, "", KindToken, "check authenticationSettings.msiEndpoint"},
		{500, `{"error":"unknown"}`, "", KindNetwork, ""},
		{200, `{"token_type":"Bearer"}`, "", KindToken, "no access_token"},
	} {
		status, body = tc.status, tc.body
		ts := &TokenSource{URL: srv.URL, ClientID: tc.clientID}
		_, err := ts.Token(context.Background(), "https://vault.azure.net")
		var te *TokenError
		if !errors.As(err, &te) || te.Kind() != tc.kind || !strings.Contains(err.Error(), tc.hint) {
			t.Errorf("%d %s: %v (kind %v), want kind %s and %q", tc.status, tc.body, err, kindOf(err), tc.kind, tc.hint)
		}
	}
	ts := &TokenSource{URL: "http://127.0.0.1:1/metadata/identity/oauth2/token", HTTP: &http.Client{Timeout: 5 * time.Second}}
	if _, err := ts.Token(context.Background(), "r"); kindOf(err) != KindNetwork || !strings.Contains(err.Error(), "reachable") {
		t.Errorf("unreachable metadata service: %v", err)
	}
}

func TestParseChallenge(t *testing.T) {
	for h, want := range map[string]string{
		`Bearer authorization="https://login.microsoftonline.com/t1", resource="https://vault.azure.net"`:          "https://vault.azure.net",
		`Bearer authorization="https://login.microsoftonline.com/t1", scope="https://vault.azure.net/.default"`:    "https://vault.azure.net",
		`Bearer authorization=https://login.tegata.example/t1,resource=https://vault.tegata.example`:               "https://vault.tegata.example",
		`Bearer authorization_uri="https://login.windows.net/t1", resource="https://vault.azure.net", error="x y"`: "https://vault.azure.net",
	} {
		c, ok := parseChallenge(h)
		if !ok || c.tokenResource() != want {
			t.Errorf("parseChallenge(%s) = %+v, %v; want resource %s", h, c, ok, want)
		}
	}
	for _, h := range []string{"", `Basic realm="x"`, `Bearer authorization="https://login/t1"`} {
		if _, ok := parseChallenge(h); ok {
			t.Errorf("parseChallenge(%s) accepted", h)
		}
	}
}
