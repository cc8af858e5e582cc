package vault_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

const (
	roleSecretsUser       = "4633458b-17de-408a-b874-0445c86b69e6"
	roleSecretsOfficer    = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
	roleCertificateUser   = "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"
	roleCertificatesOffcr = "a4417e6f-fecd-4de8-b567-7b0420556985"
	roleReader            = "21090545-7ca7-4776-b22c-e363652d74d2"
)

// TestAuthentication: every bad token gets 401 with the challenge Key Vault
// clients parse, and a body that says why without leaking anything.
func TestAuthentication(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	_, other := keys(t)
	if _, err := h.secrets(adminOID).SetSecret(context.Background(), "s1", azsecrets.SetSecretParameters{Value: to.Ptr("top-secret-value")}, nil); err != nil {
		t.Fatal(err)
	}
	challenge := `Bearer authorization="https://login.microsoftonline.com/` + tenant + `", resource="` + resource + `"`
	cases := []struct {
		name, token, want string
	}{
		{"no token", "", "AKV10000"},
		{"expired", h.token(claims{exp: time.Now().Add(-time.Hour)}), "AKV10032"},
		{"wrong audience", h.token(claims{aud: "https://management.azure.com"}), "AKV10022"},
		{"wrong issuer", h.token(claims{iss: "https://sts.windows.net/00000000-0000-0000-0000-000000000000/"}), "AKV10032"},
		{"wrong tenant", h.token(claims{tid: "00000000-0000-0000-0000-000000000000"}), "AKV10032"},
		{"forged signature", h.token(claims{key: other}), "AKV10013"},
		{"garbage", "not.a.jwt", "AKV10013"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A PUT with an empty body must get the challenge, not a 400 (A.4).
			for _, m := range []string{"GET /secrets/s1?api-version=7.4", "PUT /secrets/new-one?api-version=7.4", "GET /nowhere/at/all?api-version=7.4", "GET /secrets/s1"} {
				method, path, _ := strings.Cut(m, " ")
				resp, body := h.do(method, path, c.token, "")
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("%s: %d %s", m, resp.StatusCode, body)
				}
				if got := resp.Header.Get("WWW-Authenticate"); got != challenge {
					t.Errorf("%s: WWW-Authenticate %q, want %q", m, got, challenge)
				}
				var env struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(body, &env); err != nil || env.Error.Code != "Unauthorized" || !strings.Contains(env.Error.Message, c.want) {
					t.Errorf("%s: body %s, want code Unauthorized and %s", m, body, c.want)
				}
				if strings.Contains(string(body), "top-secret-value") || strings.Contains(string(body), "PRIVATE") {
					t.Errorf("%s: error body leaks data: %s", m, body)
				}
			}
		})
	}
	resp, body := h.do("GET", "/secrets/s1", h.token(claims{}), "")
	if resp.StatusCode != 400 || !strings.Contains(string(body), `"code":"BadParameter"`) || !strings.Contains(string(body), "api-version") {
		t.Errorf("missing api-version: %d %s", resp.StatusCode, body)
	}
	resp, _ = h.do("GET", "/secrets/s1?api-version=7.4", h.token(claims{}), "")
	if resp.StatusCode != 200 || resp.Header.Get("x-ms-request-id") == "" || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("valid token: %d, request id %q, content type %q", resp.StatusCode, resp.Header.Get("x-ms-request-id"), resp.Header.Get("Content-Type"))
	}
	for _, aud := range []string{resource + "/", resource + "/.default"} {
		if resp, body := h.do("GET", "/secrets/s1?api-version=7.4", h.token(claims{aud: aud}), ""); resp.StatusCode != 200 {
			t.Errorf("audience %s: %d %s", aud, resp.StatusCode, body)
		}
	}
}

// TestAuthorization walks each built-in role over representative operations,
// at vault and object scope (A.12, A.14 item 7).
func TestAuthorization(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	admin := h.secrets(adminOID)
	for _, n := range []string{"app-secret", "other-secret"} {
		if _, err := admin.SetSecret(ctx, n, azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	selfCert := `{"policy":{"issuer":{"name":"Self"},"x509_props":{"subject":"CN=a"}}}`
	if resp, body := h.do("POST", "/certificates/app-cert/create?api-version=7.4", h.token(claims{}), selfCert); resp.StatusCode != 202 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	principals := map[string]struct{ role, scope string }{
		"a0000000-0000-0000-0000-00000000000a": {roleSecretsUser, "/"},
		"a0000000-0000-0000-0000-00000000000b": {roleSecretsOfficer, "/"},
		"a0000000-0000-0000-0000-00000000000c": {roleCertificateUser, "/"},
		"a0000000-0000-0000-0000-00000000000d": {roleCertificatesOffcr, "/"},
		"a0000000-0000-0000-0000-00000000000e": {roleReader, "/"},
		"a0000000-0000-0000-0000-00000000000f": {roleSecretsUser, "/secrets/app-secret"},
		"a0000000-0000-0000-0000-000000000010": {roleCertificateUser, "/certificates/app-cert"},
	}
	for oid, a := range principals {
		h.grant(oid, a.role, a.scope)
	}
	const nobody = "a0000000-0000-0000-0000-0000000000ff"
	type op struct{ method, path, body string }
	ops := map[string]op{
		"get secret":        {"GET", "/secrets/app-secret?api-version=7.4", ""},
		"get other secret":  {"GET", "/secrets/other-secret?api-version=7.4", ""},
		"set secret":        {"PUT", "/secrets/app-secret?api-version=7.4", `{"value":"w"}`},
		"list secrets":      {"GET", "/secrets?api-version=7.4", ""},
		"get cert":          {"GET", "/certificates/app-cert?api-version=7.4", ""},
		"get cert secret":   {"GET", "/secrets/app-cert?api-version=7.4", ""},
		"create cert":       {"POST", "/certificates/new-cert/create?api-version=7.4", selfCert},
		"delete secret":     {"DELETE", "/secrets/other-secret-x?api-version=7.4", ""},
		"list certificates": {"GET", "/certificates?api-version=7.4", ""},
	}
	// allowed[principal][operation]; everything else must be 403 ForbiddenByRbac.
	allowed := map[string][]string{
		"a0000000-0000-0000-0000-00000000000a": {"get secret", "get other secret", "list secrets", "get cert secret"},
		"a0000000-0000-0000-0000-00000000000b": {"get secret", "get other secret", "set secret", "list secrets", "get cert secret", "delete secret"},
		"a0000000-0000-0000-0000-00000000000c": {"get secret", "get other secret", "list secrets", "get cert", "get cert secret", "list certificates"},
		"a0000000-0000-0000-0000-00000000000d": {"get cert", "create cert", "list certificates"},
		"a0000000-0000-0000-0000-00000000000e": {"list secrets", "get cert", "list certificates"},
		"a0000000-0000-0000-0000-00000000000f": {"get secret"},
		"a0000000-0000-0000-0000-000000000010": {"get cert", "get cert secret"},
		nobody:                                 {},
	}
	for oid, ok := range allowed {
		tok := h.token(claims{oid: oid})
		for name, o := range ops {
			want := false
			for _, a := range ok {
				want = want || a == name
			}
			resp, body := h.do(o.method, o.path, tok, o.body)
			if !want {
				if resp.StatusCode != 403 || !strings.Contains(string(body), `"innererror":{"code":"ForbiddenByRbac"}`) || !strings.Contains(string(body), "DeniedWithNoValidRBAC") {
					t.Errorf("%s (%s) %s: %d %s, want 403 ForbiddenByRbac", oid, principals[oid].role, name, resp.StatusCode, body)
				}
				if !strings.Contains(string(body), "Key Vault") {
					t.Errorf("%s %s: the denial names no role that would grant it: %s", oid, name, body)
				}
				continue
			}
			if resp.StatusCode == 403 || resp.StatusCode == 401 {
				t.Errorf("%s (%s) %s: %d %s, want it allowed", oid, principals[oid].role, name, resp.StatusCode, body)
			}
		}
	}
}

// TestVaultsByHost: the host names the vault; vaults are separate (objects and role
// assignments), and an unknown vault gets 404 without listing the served ones.
func TestVaultsByHost(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	tok := h.token(claims{})
	if resp, body := h.do("PUT", "/secrets/only-in-kv1?api-version=7.4", tok, `{"value":"v"}`); resp.StatusCode != 200 {
		t.Fatalf("set in kv1: %d %s", resp.StatusCode, body)
	}
	get := func(host, path string) (int, string) {
		req, _ := http.NewRequest("GET", "https://"+host+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The administrator's role is on kv1 only.
	if code, body := get("kv2."+domain, "/secrets/only-in-kv1?api-version=7.4"); code != 403 || !strings.Contains(body, "ForbiddenByRbac") {
		t.Errorf("kv2 without a role there: %d %s", code, body)
	}
	h.grantIn("kv2", adminOID, roleAdmin, "/")
	if code, body := get("kv2."+domain, "/secrets/only-in-kv1?api-version=7.4"); code != 404 || !strings.Contains(body, "SecretNotFound") {
		t.Errorf("kv1's secret read through kv2: %d %s", code, body)
	}
	code, body := get("kv9."+domain, "/secrets/x?api-version=7.4")
	if code != 404 || !strings.Contains(body, "VaultNotFound") || strings.Contains(body, "kv1") || strings.Contains(body, "kv2") {
		t.Errorf("an unknown vault: %d %s", code, body)
	}
}
