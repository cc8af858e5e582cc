package renew

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/renew/dnsprov"
	"github.com/tegata-project/tegata/internal/testenv"
)

// apiCaller returns a function that calls srv with a bearer token.
func apiCaller(t *testing.T, srv *httptest.Server) func(method, path, tok, body string) (int, string) {
	return func(method, path, tok, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		req.Header.Set("Content-Type", "application/merge-patch+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// TestAPIPatch: PATCH edits a certificate's definition and renewal settings.
// Disabled, a pass at its renewal time leaves it alone; enabled again, the next
// pass renews it. Names and key are refused (add a new certificate), as are
// unknown fields, bad values and callers without the issue action.
func TestAPIPatch(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newTestService(t, peb, tv, clock)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, err := s.Add(ctx, Definition{Name: "pt", DNSNames: []string{"pt.example.test"}, DNSProvider: "test-dns"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewAPI(s, testAccess(t, tv)))
	defer srv.Close()
	call := apiCaller(t, srv)
	m := tv.cred.(minter)
	admin, reader, issuer, revoker := mintFor(t, m, "00000000-0000-0000-0000-0000000000aa"), mintFor(t, m, readerOID), mintFor(t, m, issuerOID), mintFor(t, m, revokerOID)

	if code, _ := call("PATCH", "/api/certificates/pt", "", `{"disabled":true}`); code != 401 {
		t.Errorf("PATCH without a token: %d, want 401", code)
	}
	for who, tok := range map[string]string{"reader": reader, "revoker": revoker} {
		if code, body := call("PATCH", "/api/certificates/pt", tok, `{"disabled":true}`); code != 403 || !strings.Contains(body, "certificates/create") || !strings.Contains(body, "tegata Renewal Issuer") {
			t.Errorf("PATCH as the %s: %d %s, want 403 naming tegata Renewal Issuer", who, code, body)
		}
	}
	for _, c := range []struct{ body, want string }{
		{`{"keyType":"RSA"}`, "keyType cannot be changed: add a new certificate"},
		{`{"dnsNames":["x.example.test"]}`, "dnsNames cannot be changed: add a new certificate"},
		{`{"CertificateName":"other"}`, "certificateName cannot be changed"},
		{`{"keyCurveName":"P-384"}`, "add a new certificate"},
		{`{"expiresOn":"2030-01-01T00:00:00Z"}`, "not an editable field"},
		{`{"renewal":{"mode":"days"}}`, "renewal.mode is not an editable field"},
		{`{"renewal":{"ratio":1.5}}`, "renewal.ratio"},
		{`{"renewal":{"beforeExpiryDays":400}}`, "renewal.beforeExpiryDays"},
		{`{"disabled":"yes"}`, "disabled: want a bool"},
		{`{"dnsProviderName":"nope"}`, `nope\" is not a configured DNS provider`},
		{`{"dnsProviderName":null}`, "dnsProviderName"},
		{`{"profile":"no-such-profile"}`, "the CA does not offer"},
		{`{"disabled":true,"Disabled":false}`, "given twice"},
		{`[]`, "not a JSON object"},
		{``, "not a JSON object"},
		{`{"disabled":true} {}`, "more than one JSON value"},
	} {
		code, body := call("PATCH", "/api/certificates/pt", issuer, c.body)
		if code != 400 || !strings.Contains(body, c.want) || !strings.Contains(body, `"status":400`) || strings.Contains(strings.ToLower(body), "keyvault") {
			t.Errorf("PATCH %s: %d %s, want a 400 problem saying %q", c.body, code, body, c.want)
		}
	}
	if code, _ := call("PATCH", "/api/certificates/pt", issuer, `{"dnsAlias":"`+strings.Repeat("a", 70<<10)+`"}`); code != 413 {
		t.Errorf("PATCH with a 70 KiB body: %d, want 413", code)
	}
	if code, _ := call("PATCH", "/api/certificates/nope", admin, `{"disabled":true}`); code != 404 {
		t.Errorf("PATCH of an unknown certificate: %d, want 404", code)
	}
	if d, _ := s.Get(ctx, "pt"); d.Disabled || d.Definition.DNSProvider != "test-dns" || d.Renewal != (RenewalSettings{}) {
		t.Fatalf("refused patches changed the certificate: %+v", d)
	}

	// Disable it (with a renewal setting): the schedule stops.
	code, body := call("PATCH", "/api/certificates/pt", issuer, `{"disabled":true,"renewal":{"beforeExpiryDays":30}}`)
	if code != 200 || !strings.Contains(body, `"disabled":true`) || !strings.Contains(body, `"beforeExpiryDays":30`) || !strings.Contains(body, `"history":[{`) || strings.Contains(body, `"nextRenewal"`) {
		t.Fatalf("PATCH disabled: %d %s", code, body)
	}
	if code, get := call("GET", "/api/certificates/pt", reader, ""); code != 200 || get != body {
		t.Errorf("GET after PATCH differs from PATCH's answer:\n%s\n%s", get, body)
	}
	mu.Lock()
	now = st.NotBefore.Add(st.NotAfter.Sub(st.NotBefore) * 3 / 4)
	mu.Unlock()
	if n, err := s.Pass(ctx); err != nil || n != 0 {
		t.Errorf("a pass at the renewal time of a disabled certificate started %d renewals (%v)", n, err)
	}
	if d, _ := s.Get(ctx, "pt"); d.Issued != 1 {
		t.Errorf("the disabled certificate was issued %d times, want 1", d.Issued)
	}

	// Enable it again (merge patch: null is the default, false), with PascalCase
	// as acmebot's v4 clients send, on the v4 route: the next pass renews it.
	code, body = call("PATCH", "/api/certificate/pt", admin, `{"Disabled":null,"renewal":{"ratio":0.5}}`)
	if code != 200 || strings.Contains(body, `"disabled":true`) || !strings.Contains(body, `"ratio":0.5`) || !strings.Contains(body, `"beforeExpiryDays":30`) || !strings.Contains(body, `"nextRenewal"`) {
		t.Fatalf("PATCH enabled: %d %s", code, body)
	}
	if n, err := s.Pass(ctx); err != nil || n != 1 {
		t.Fatalf("a pass at the renewal time of the enabled certificate started %d renewals (%v)", n, err)
	}
	d, _ := s.Get(ctx, "pt")
	if d.Issued != 2 || d.LastError != "" || d.Renewal != (RenewalSettings{Ratio: 0.5, BeforeExpiryDays: 30}) {
		t.Errorf("after the pass: issued %d, last error %q, renewal %+v; want 2, none, the patched settings kept", d.Issued, d.LastError, d.Renewal)
	}

	// Other editable fields; renewal null resets the settings.
	code, body = call("PATCH", "/api/certificates/pt", issuer, `{"dnsAlias":"alias.example.test","preferredChain":"Pebble Root","reuseKey":true,"renewal":null}`)
	if code != 200 {
		t.Fatalf("PATCH alias, chain, reuseKey: %d %s", code, body)
	}
	d, _ = s.Get(ctx, "pt")
	if df := d.Definition; df.DNSAlias != "alias.example.test" || df.PreferredChain != "Pebble Root" || !df.ReuseKey || df.Name != "pt" || df.KeyType != "EC" || d.Renewal != (RenewalSettings{}) {
		t.Errorf("after PATCH: %+v, renewal %+v", df, d.Renewal)
	}
	if strings.Contains(body, `"renewal":{"`) {
		t.Errorf("renewal null did not reset the settings: %s", body)
	}
}

// TestAPIRevokeDisableInVault: revoke with "disableInVault":true disables the
// vault's current version after the CA revoked it; without it the version
// stays enabled (acmebot's behaviour).
func TestAPIRevokeDisableInVault(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	s := newTestService(t, peb, tv, time.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, n := range []string{"dv", "kept"} {
		if _, err := s.Add(ctx, Definition{Name: n, DNSNames: []string{n + ".example.test"}, DNSProvider: "test-dns"}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(NewAPI(s, testAccess(t, tv)))
	defer srv.Close()
	call := apiCaller(t, srv)
	revoker := mintFor(t, tv.cred.(minter), revokerOID)
	enabled := func(name string) bool {
		t.Helper()
		resp, err := s.o.Vault.certs.GetCertificate(ctx, name, "", nil)
		if err != nil || resp.Attributes == nil || resp.Attributes.Enabled == nil {
			t.Fatalf("reading %s from the vault: %v", name, err)
		}
		return *resp.Attributes.Enabled
	}
	if code, body := call("POST", "/api/certificates/kept/revoke", revoker, `{"reason":"superseded"}`); code != 200 || !strings.Contains(body, `"revoked":true`) {
		t.Fatalf("revoke without disableInVault: %d %s", code, body)
	}
	if !enabled("kept") {
		t.Error("revoking without disableInVault disabled the vault's version")
	}
	if code, body := call("POST", "/api/certificates/dv/revoke", revoker, `{"reason":4,"disableInVault":true}`); code != 200 || !strings.Contains(body, `"revoked":true`) || !strings.Contains(body, `"revocationReason":"superseded"`) {
		t.Fatalf("revoke with disableInVault: %d %s", code, body)
	}
	if enabled("dv") {
		t.Error("revoking with disableInVault left the vault's version enabled")
	}
	if r, err := s.load(ctx, "dv"); err != nil || r.Revoked == nil || !r.Revoked.DisabledInVault {
		t.Errorf("the revocation record does not say the version was disabled: %+v (%v)", r, err)
	}
	if code, _ := call("POST", "/api/certificates/dv/revoke", revoker, `{"disableInVault":true}`); code != 409 {
		t.Errorf("revoking the revoked certificate again: %d, want 409", code)
	}
}

// TestAPIProvidersAccounts: the providers and accounts resources name what is
// configured and never a configuration value, secret or key.
func TestAPIProvidersAccounts(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	s := newTestService(t, peb, tv, time.Now)
	const tsigSecret, tsigKey, nameserver = "dGVnYXRhLXRvcC1zZWNyZXQtdmFsdWU=", "tsig-key-name", "192.0.2.53:53"
	p, err := dnsprov.New("rfc2136", map[string]string{"nameserver": nameserver, "tsigKey": tsigKey, "tsigSecret": tsigSecret})
	if err != nil {
		t.Fatal(err)
	}
	s.o.DNS["zone-b"] = p
	srv := httptest.NewServer(NewAPI(s, testAccess(t, tv)))
	defer srv.Close()
	call := apiCaller(t, srv)
	m := tv.cred.(minter)
	reader, officer := mintFor(t, m, readerOID), mintFor(t, m, officerOID)

	for _, path := range []string{"/api/providers", "/api/accounts"} {
		if code, _ := call("GET", path, "", ""); code != 401 {
			t.Errorf("GET %s without a token: %d, want 401", path, code)
		}
		if code, body := call("GET", path, officer, ""); code != 403 || !strings.Contains(body, "certificates/read") {
			t.Errorf("GET %s as an officer of one certificate: %d %s, want 403", path, code, body)
		}
	}

	code, body := call("GET", "/api/providers", reader, "")
	var provs []map[string]any
	json.Unmarshal([]byte(body), &provs)
	want := []map[string]any{{"name": "test-dns", "type": "challtestsrv"}, {"name": "zone-b", "type": "rfc2136"}}
	if code != 200 || len(provs) != 2 || !mapsEqual(provs[0], want[0]) || !mapsEqual(provs[1], want[1]) {
		t.Errorf("providers: %d %s", code, body)
	}
	for _, secret := range []string{tsigSecret, tsigKey, nameserver, peb.ChallTestSrvURL} {
		if strings.Contains(body, secret) {
			t.Errorf("providers shows the configuration value %q: %s", secret, body)
		}
	}

	code, body = call("GET", "/api/accounts", reader, "")
	var accts []map[string]any
	json.Unmarshal([]byte(body), &accts)
	acct := s.o.ACME.Account()
	if code != 200 || len(accts) != 1 || accts[0]["accountUri"] != acct.URI || acct.URI == "" || accts[0]["acmeEndpoint"] != s.endpoint() || accts[0]["directoryUrl"] != peb.DirectoryURL || accts[0]["ari"] != true {
		t.Fatalf("accounts: %d %s", code, body)
	}
	var keys []string
	for k := range accts[0] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"acmeEndpoint", "accountUri", "directoryUrl", "ari", "emails", "externalAccountRequired", "newOrderUrl", "profiles", "termsOfService"}; !slices.Equal(keys, wantSorted(want)) {
		t.Errorf("account fields %v, want %v", keys, wantSorted(want))
	}
	d, err := acct.Key.(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{hex.EncodeToString(d), base64.RawURLEncoding.EncodeToString(d), base64.StdEncoding.EncodeToString(d), "PRIVATE KEY"} {
		if strings.Contains(body, secret) {
			t.Errorf("accounts shows the account key: %s", body)
		}
	}
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func wantSorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
