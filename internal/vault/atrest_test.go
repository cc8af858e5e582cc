package vault_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// atRestSecrets writes a secret and imports a certificate with its key, and
// returns the byte strings that must never appear in the store in the clear.
func atRestSecrets(t *testing.T, h *harness) [][]byte {
	t.Helper()
	ctx := context.Background()
	value := "plaintext-canary-" + base64.RawURLEncoding.EncodeToString(randomBytes(12))
	if _, err := h.secrets(adminOID).SetSecret(ctx, "canary", azsecrets.SetSecretParameters{Value: &value}, nil); err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := ca.leaf(t, key.Public(), "atrest.example")
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	text := string(pemKey) + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}))
	if _, err := h.certificates(adminOID).ImportCertificate(ctx, "atrest", azcertificates.ImportCertificateParameters{
		Base64EncodedCertificate: to.Ptr(text),
		CertificatePolicy:        &azcertificates.CertificatePolicy{SecretProperties: &azcertificates.SecretProperties{ContentType: to.Ptr("application/x-pem-file")}},
	}, nil); err != nil {
		t.Fatal(err)
	}
	// A self-signed certificate whose key the vault generated itself.
	if resp, body := h.do("POST", "/certificates/generated/create?api-version=7.4", h.token(claims{}), `{"policy":{"issuer":{"name":"Self"},"key_props":{"kty":"EC","crv":"P-256"},"x509_props":{"subject":"CN=g"},"secret_props":{"contentType":"application/x-pem-file"}}}`); resp.StatusCode != 202 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	sec, err := h.secrets(adminOID).GetSecret(ctx, "generated", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	genKey, _ := privateKeyOf(t, "application/x-pem-file", *sec.Value)
	genDER, _ := x509.MarshalPKCS8PrivateKey(genKey)
	d := key.D.Bytes()
	return [][]byte{
		[]byte(value), der, d, []byte(base64.StdEncoding.EncodeToString(der)), []byte("PRIVATE KEY"),
		genDER, genKey.(*ecdsa.PrivateKey).D.Bytes(),
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestAtRestSQLite: the database files (main and WAL) hold no secret value and
// no private key in the clear.
func TestAtRestSQLite(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	needles := atRestSecrets(t, h)
	var files [][]byte
	matches, _ := filepath.Glob(h.dbPath + "*")
	for _, f := range matches {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	if len(files) == 0 || len(bytes.Join(files, nil)) < 4096 {
		t.Fatalf("found %d database files (%v); the test would prove nothing", len(files), matches)
	}
	for i, n := range needles {
		for j, f := range files {
			if bytes.Contains(f, n) {
				t.Errorf("needle %d (%d bytes) is in the clear in %s", i, len(n), matches[j])
			}
		}
	}
}
