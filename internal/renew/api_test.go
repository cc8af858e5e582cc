package renew

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/go-jose/go-jose/v4"

	"github.com/tegata-project/tegata/internal/store"
	"github.com/tegata-project/tegata/internal/testenv"
	"github.com/tegata-project/tegata/internal/vault/auth"
	"github.com/tegata-project/tegata/internal/vault/rbac"
)

// TestAPI drives acmebot's routes: unauthenticated and unauthorised callers are
// refused; an administrator issues (PascalCase body, as acmebot's v4 wiki sends),
// polls the operation, lists, and renews.
func TestAPI(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	s := newTestService(t, peb, tv, time.Now)
	m := tv.cred.(minter)
	validator, err := auth.NewValidator(auth.Options{Issuer: "https://sts.windows.net/" + testTenant + "/", Tenant: testTenant, Resources: []string{"https://vault.test.example"},
		Keys: auth.StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &m.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})})
	if err != nil {
		t.Fatal(err)
	}
	as, _ := tv.st.Assignments(context.Background(), "")
	as = append(as, store.Assignment{ID: "reader", Vault: "kv1", Principal: "00000000-0000-0000-0000-0000000000bb", RoleID: "21090545-7ca7-4776-b22c-e363652d74d2", Scope: "/"})
	pol, err := rbac.Compile(as)
	if err != nil {
		t.Fatal(err)
	}
	api := NewAPI(s, APIOptions{Tokens: validator, Policy: func() *rbac.Policy { return pol }, Vault: "kv1", Challenge: `Bearer authorization="x", resource="y"`})
	srv := httptest.NewServer(api)
	defer srv.Close()
	token := func(oid string) string {
		tok, _ := m.GetToken(context.Background(), policy.TokenRequestOptions{})
		if oid == "" {
			return tok.Token
		}
		return mintFor(t, m, oid)
	}
	call := func(method, path, tok, body string) (int, string, http.Header) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	if code, _, h := call("GET", "/api/certificates", "", ""); code != 401 || h.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d", code)
	}
	reader := token("00000000-0000-0000-0000-0000000000bb")
	if code, body, _ := call("POST", "/api/certificates", reader, `{"dnsNames":["api.example.test"]}`); code != 403 || !strings.Contains(body, "certificates/create") {
		t.Errorf("a reader issuing: %d %s", code, body)
	}
	admin := token("")
	code, body, h := call("POST", "/api/certificate", admin, `{"DnsNames":["api.example.test"],"KeyType":"EC","KeyCurveName":"P-256"}`)
	if code != 202 || !strings.HasPrefix(h.Get("Location"), "/api/operations/") {
		t.Fatalf("issue: %d %s", code, body)
	}
	poll := func(loc string) (int, string) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			code, body, _ := call("GET", loc, admin, "")
			if code != 202 || time.Now().After(deadline) {
				return code, body
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if code, body := poll(h.Get("Location")); code != 200 || !strings.Contains(body, `"name":"api-example-test"`) {
		t.Fatalf("operation: %d %s", code, body)
	}
	code, body, _ = call("GET", "/api/certificates", reader, "")
	var list []map[string]any
	json.Unmarshal([]byte(body), &list)
	if code != 200 || len(list) != 1 || list[0]["name"] != "api-example-test" || list[0]["keyType"] != "EC" || list[0]["isExpired"] != false {
		t.Fatalf("list as a reader: %d %s", code, body)
	}
	code, _, h = call("POST", "/api/certificates/api-example-test/renew", admin, "")
	if code != 202 {
		t.Fatalf("renew: %d", code)
	}
	if code, body := poll(h.Get("Location")); code != 200 || !strings.Contains(body, `"issued":2`) {
		t.Errorf("renew operation: %d %s", code, body)
	}
	if code, _, _ := call("POST", "/api/certificates/nope/renew", admin, ""); code != 404 {
		t.Errorf("renewing an unknown certificate: %d", code)
	}
	if code, body, _ := call("GET", "/api/dns-zones", reader, ""); code != 200 || !strings.Contains(body, `"dnsProviderName":"test-dns"`) {
		t.Errorf("dns-zones: %d %s", code, body)
	}
}
