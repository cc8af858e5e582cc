package vault_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/tegata-project/tegata/internal/pki"
	"github.com/tegata-project/tegata/internal/vault"
)

// TestRewrap rotates the master key: values sealed under the old key open while
// it is given as a previous key, Rewrap moves them all, and afterwards the new
// key alone opens everything (and the old one alone nothing).
func TestRewrap(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	if _, err := h.secrets(adminOID).SetSecret(ctx, "s1", azsecrets.SetSecretParameters{Value: to.Ptr("one")}, nil); err != nil {
		t.Fatal(err)
	}
	if resp, body := h.do("POST", "/certificates/c1/create?api-version=7.4", h.token(claims{}), `{"policy":{"issuer":{"name":"Self"},"x509_props":{"subject":"CN=c1"}}}`); resp.StatusCode != 202 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	if resp, body := h.do("POST", "/certificates/p1/create?api-version=7.4", h.token(claims{}), `{"policy":{"issuer":{"name":"Unknown"},"x509_props":{"subject":"CN=p1"}}}`); resp.StatusCode != 202 {
		t.Fatalf("create pending: %d %s", resp.StatusCode, body)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	newKey, _ := pki.NewMasterKey(raw)
	both, err := vault.NewSealer(newKey, h.master)
	if err != nil {
		t.Fatal(err)
	}
	n, err := vault.Rewrap(ctx, h.st, both, []string{"kv1"})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 { // s1's value, c1's secret, p1's pending key
		t.Errorf("re-wrapped %d values, want 3", n)
	}
	if again, _ := vault.Rewrap(ctx, h.st, both, []string{"kv1"}); again != 0 {
		t.Errorf("a second run re-wrapped %d values, want 0", again)
	}
	get := func(s *vault.Sealer, path string) (int, string) {
		opts := h.opts
		opts.Sealer = s
		v, err := vault.New(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		req := httptest.NewRequest("GET", "https://kv1."+domain+path, nil)
		req.Header.Set("Authorization", "Bearer "+h.token(claims{}))
		rec := httptest.NewRecorder()
		v.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	onlyNew, _ := vault.NewSealer(newKey)
	onlyOld, _ := vault.NewSealer(h.master)
	for _, path := range []string{"/secrets/s1?api-version=7.4", "/secrets/c1?api-version=7.4"} {
		if code, body := get(onlyNew, path); code != http.StatusOK || !strings.Contains(body, `"value":"`) {
			t.Errorf("new key alone, %s: %d %s", path, code, body)
		}
		if code, _ := get(onlyOld, path); code != http.StatusInternalServerError {
			t.Errorf("old key alone, %s: %d, want 500 (the value is no longer under it)", path, code)
		}
	}
}
