package vault_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// BenchmarkGetSecret is the handler's cost of an authenticated GET of a secret on
// SQLite, without TLS and HTTP (bench/vault.sh measures those too, with wrk).
func BenchmarkGetSecret(b *testing.B) {
	h := newHarness(b, harnessOptions{})
	if _, err := h.secrets(adminOID).SetSecret(context.Background(), "bench", azsecrets.SetSecretParameters{Value: to.Ptr("bench-value")}, nil); err != nil {
		b.Fatal(err)
	}
	token := "Bearer " + h.token(claims{})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "https://kv1."+domain+"/secrets/bench/?api-version=7.4", nil)
			req.Header.Set("Authorization", token)
			rec := httptest.NewRecorder()
			h.v.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
}
