package renew

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tegata-project/tegata/internal/store"
	"github.com/tegata-project/tegata/internal/testenv"
	"github.com/tegata-project/tegata/internal/vault/auth"
	"github.com/tegata-project/tegata/internal/vault/rbac"
)

// Principals of the access tests besides the administrator (…aa).
const (
	readerOID  = "00000000-0000-0000-0000-0000000000bb" // Key Vault Reader on the vault
	officerOID = "00000000-0000-0000-0000-0000000000cc" // Certificates Officer on /certificates/lc only
	issuerOID  = "00000000-0000-0000-0000-0000000000dd" // tegata Renewal Issuer on the vault
	revokerOID = "00000000-0000-0000-0000-0000000000ee" // tegata Renewal Revoker on the vault
)

// testAccess is the API's token validator and a policy with the test vault's
// administrator, a reader and an officer of one certificate.
func testAccess(t *testing.T, tv *testVault) APIOptions {
	t.Helper()
	m := tv.cred.(minter)
	validator, err := auth.NewValidator(auth.Options{Issuer: "https://sts.windows.net/" + testTenant + "/", Tenant: testTenant, Resources: []string{"https://vault.test.example"},
		Keys: auth.StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &m.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})})
	if err != nil {
		t.Fatal(err)
	}
	as, _ := tv.st.Assignments(context.Background(), "")
	as = append(as,
		store.Assignment{ID: "reader", Vault: "kv1", Principal: readerOID, RoleID: "21090545-7ca7-4776-b22c-e363652d74d2", Scope: "/"},
		store.Assignment{ID: "officer", Vault: "kv1", Principal: officerOID, RoleID: "a4417e6f-fecd-4de8-b567-7b0420556985", Scope: "/certificates/lc"},
		store.Assignment{ID: "issuer", Vault: "kv1", Principal: issuerOID, RoleID: "7e6a7a00-72e0-4e00-8000-000000000002", Scope: "/"},
		store.Assignment{ID: "revoker", Vault: "kv1", Principal: revokerOID, RoleID: "7e6a7a00-72e0-4e00-8000-000000000003", Scope: "/"})
	pol, err := rbac.Compile(as)
	if err != nil {
		t.Fatal(err)
	}
	return APIOptions{Tokens: validator, Policy: func() *rbac.Policy { return pol }, Vault: "kv1", Challenge: `Bearer authorization="x", resource="y"`}
}

// TestAPILifecycle drives tegata's routes on one certificate: read it, revoke it
// (acmebot's route, with a reason), delete it; with 401 for no token, 403 for a
// reader, and an officer scoped to the certificate allowed on it alone.
func TestAPILifecycle(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	s := newTestService(t, peb, tv, time.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, n := range []string{"lc", "other"} {
		if _, err := s.Add(ctx, Definition{Name: n, DNSNames: []string{n + ".example.test"}, DNSProvider: "test-dns"}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(NewAPI(s, testAccess(t, tv)))
	defer srv.Close()
	m := tv.cred.(minter)
	admin, reader, officer := mintFor(t, m, "00000000-0000-0000-0000-0000000000aa"), mintFor(t, m, readerOID), mintFor(t, m, officerOID)
	call := apiCaller(t, srv)

	for _, c := range []struct{ method, path string }{{"GET", "/api/certificates/lc"}, {"POST", "/api/certificates/lc/revoke"}, {"DELETE", "/api/certificates/lc"}} {
		if code, _ := call(c.method, c.path, "", ""); code != 401 {
			t.Errorf("%s %s without a token: %d, want 401", c.method, c.path, code)
		}
	}
	if code, body := call("GET", "/api/certificates/lc", reader, ""); code != 200 || !strings.Contains(body, `"history":[{`) || !strings.Contains(body, `"nextRenewal"`) {
		t.Errorf("GET one certificate as a reader: %d %s", code, body)
	}
	if code, body := call("POST", "/api/certificates/lc/revoke", reader, `{"reason":"keyCompromise"}`); code != 403 || !strings.Contains(body, "certificates/update") || !strings.Contains(body, "Certificates Officer") {
		t.Errorf("revoke as a reader: %d %s", code, body)
	}
	if code, body := call("DELETE", "/api/certificates/lc", reader, ""); code != 403 || !strings.Contains(body, "certificates/delete") {
		t.Errorf("delete as a reader: %d %s", code, body)
	}
	if code, _ := call("POST", "/api/certificates/other/revoke", officer, ""); code != 403 {
		t.Errorf("revoke by an officer of another certificate: %d, want 403", code)
	}
	if code, body := call("POST", "/api/certificates/lc/revoke", officer, `{"reason":"caCompromise"}`); code != 400 || !strings.Contains(body, "keyCompromise") {
		t.Errorf("revoke with a reason CAs refuse: %d %s", code, body)
	}
	if code, body := call("POST", "/api/certificates/lc/revoke", officer, `{"reason":"superseded"}`); code != 200 || !strings.Contains(body, `"revoked":true`) || !strings.Contains(body, `"revocationReason":"superseded"`) {
		t.Fatalf("revoke by the certificate's officer: %d %s", code, body)
	}
	if code, _ := call("POST", "/api/certificate/lc/revoke", admin, `{"reason":4}`); code != 409 {
		t.Errorf("revoking the revoked certificate again (v4 route, numeric reason): %d, want 409", code)
	}
	if code, body := call("POST", "/api/certificates/other/revoke", admin, ""); code != 200 || !strings.Contains(body, `"revocationReason":"unspecified"`) {
		t.Errorf("revoke without a body: %d %s", code, body)
	}
	if code, _ := call("DELETE", "/api/certificates/lc", officer, ""); code != 204 {
		t.Errorf("delete by the certificate's officer: %d, want 204", code)
	}
	if code, _ := call("GET", "/api/certificates/lc", admin, ""); code != 404 {
		t.Errorf("GET after delete: %d, want 404", code)
	}
	if code, _ := call("DELETE", "/api/certificate/lc", admin, ""); code != 404 {
		t.Errorf("delete twice (v4 route): %d, want 404", code)
	}
	if code, body := call("GET", "/api/certificates", admin, ""); code != 200 || strings.Contains(body, `"name":"lc"`) || !strings.Contains(body, `"name":"other"`) {
		t.Errorf("list after deleting lc: %d %s", code, body)
	}
}

// TestAPIRenewalRoles: tegata's renewal roles split issuing from revoking. The
// issuer lists, issues and renews but cannot revoke or delete; the revoker lists
// and revokes but cannot issue; a refusal names the tegata role first.
func TestAPIRenewalRoles(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	s := newTestService(t, peb, tv, time.Now)
	srv := httptest.NewServer(NewAPI(s, testAccess(t, tv)))
	defer srv.Close()
	m := tv.cred.(minter)
	issuer, revoker := mintFor(t, m, issuerOID), mintFor(t, m, revokerOID)
	call := apiCaller(t, srv)
	if code, body := call("POST", "/api/certificates", revoker, `{"dnsNames":["roles.example.test"],"dnsProviderName":"test-dns"}`); code != 403 || !strings.Contains(body, "tegata Renewal Issuer") {
		t.Errorf("issue as the revoker: %d %s, want 403 naming tegata Renewal Issuer", code, body)
	}
	if code, body := call("POST", "/api/certificates", issuer, `{"dnsNames":["roles.example.test"],"dnsProviderName":"test-dns"}`); code >= 300 {
		t.Fatalf("issue as the issuer: %d %s", code, body)
	}
	// Issuing runs in the background (acmebot's operation); wait for the certificate.
	for i := 0; ; i++ {
		if code, body := call("GET", "/api/certificates/roles-example-test", revoker, ""); code == 200 && strings.Contains(body, `"issued":1`) {
			break
		} else if i == 150 {
			t.Fatalf("not issued: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, body := call("POST", "/api/certificates/roles-example-test/revoke", issuer, `{"reason":"superseded"}`); code != 403 || !strings.Contains(body, "tegata Renewal Revoker") {
		t.Errorf("revoke as the issuer: %d %s, want 403 naming tegata Renewal Revoker", code, body)
	}
	if code, _ := call("DELETE", "/api/certificates/roles-example-test", issuer, ""); code != 403 {
		t.Errorf("delete as the issuer: %d, want 403", code)
	}
	if code, body := call("POST", "/api/certificates/roles-example-test/revoke", revoker, `{"reason":"superseded"}`); code != 200 || !strings.Contains(body, `"revoked":true`) {
		t.Errorf("revoke as the revoker: %d %s", code, body)
	}
}
