package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"software.sslmate.com/src/go-pkcs12"
)

// toIMDS sends the SDK's requests for 169.254.169.254 to the test's metadata service:
// azidentity has the address hard-coded.
type toIMDS struct {
	meta string
}

func (t toIMDS) Do(r *http.Request) (*http.Response, error) {
	if r.URL.Host == "169.254.169.254" {
		r.URL.Host = t.meta
		r.Host = t.meta
	}
	return http.DefaultClient.Do(r)
}

// vaultClients returns azsecrets and azcertificates clients of p's vault that
// authenticate with the real ManagedIdentityCredential against p's metadata service.
// azidentity caches managed-identity tokens for the whole process, so only one test
// of this binary may use it; others use vaultClientsWithToken.
func vaultClients(t *testing.T, p *upProcess) (*azsecrets.Client, *azcertificates.Client) {
	t.Helper()
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: toIMDS{p.meta}, Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return vaultClientsFor(t, p, cred)
}

// staticToken is a credential holding one token (from p's metadata service).
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// vaultClientsWithToken is vaultClients with a token fetched from p's metadata
// service by hand, outside azidentity's process-wide cache.
func vaultClientsWithToken(t *testing.T, p *upProcess) (*azsecrets.Client, *azcertificates.Client) {
	t.Helper()
	return vaultClientsFor(t, p, staticToken(imdsToken(t, p.meta)))
}

func vaultClientsFor(t *testing.T, p *upProcess, cred azcore.TokenCredential) (*azsecrets.Client, *azcertificates.Client) {
	t.Helper()
	pemCA, err := os.ReadFile(filepath.Join(p.data, "tls-ca.pem"))
	if err != nil {
		t.Fatalf("tegata up wrote no TLS CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		t.Fatal("tls-ca.pem holds no certificate")
	}
	co := azcore.ClientOptions{
		Transport: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
	vaultURL := "https://" + p.vault
	sc, err := azsecrets.NewClient(vaultURL, cred, &azsecrets.ClientOptions{ClientOptions: co, DisableChallengeResourceVerification: true})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := azcertificates.NewClient(vaultURL, cred, &azcertificates.ClientOptions{ClientOptions: co, DisableChallengeResourceVerification: true})
	if err != nil {
		t.Fatal(err)
	}
	return sc, cc
}

// TestVaultWithAzureSDK is issue 4's acceptance: the real ManagedIdentityCredential
// gets a token from tegata's metadata service, and azsecrets and azcertificates with it
// set and get a secret, import a PFX and a PEM certificate, list across pages, and read
// a certificate's secret back into a working key pair.
func TestVaultWithAzureSDK(t *testing.T) {
	p := startUp(t)
	if p.vault == "" {
		t.Fatal("tegata up printed no vault address")
	}
	secrets, certs := vaultClients(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if _, err := secrets.SetSecret(ctx, "db-password", azsecrets.SetSecretParameters{Value: to.Ptr("s3cret")}, nil); err != nil {
		t.Fatalf("SetSecret with a managed-identity token: %v", err)
	}
	got, err := secrets.GetSecret(ctx, "db-password", "", nil)
	if err != nil || *got.Value != "s3cret" {
		t.Fatalf("GetSecret = %v, %v", got.Value, err)
	}
	for i := range 30 {
		if _, err := secrets.SetSecret(ctx, fmt.Sprintf("bulk-%02d", i), azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	pages, names := 0, 0
	pager := secrets.NewListSecretPropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		names += len(page.Value)
	}
	if pages != 2 || names != 31 {
		t.Errorf("listing: %d pages, %d secrets; want 2 pages, 31 secrets", pages, names)
	}

	key, chain := testChain(t)
	pfx, err := pkcs12.Modern.Encode(key, chain[0], chain[1:], "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certs.ImportCertificate(ctx, "www-pfx", azcertificates.ImportCertificateParameters{Base64EncodedCertificate: to.Ptr(base64.StdEncoding.EncodeToString(pfx))}, nil); err != nil {
		t.Fatalf("import PFX: %v", err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	for _, c := range chain {
		pemText += string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	if _, err := certs.ImportCertificate(ctx, "www-pem", azcertificates.ImportCertificateParameters{
		Base64EncodedCertificate: to.Ptr(pemText),
		CertificatePolicy:        &azcertificates.CertificatePolicy{SecretProperties: &azcertificates.SecretProperties{ContentType: to.Ptr("application/x-pem-file")}},
	}, nil); err != nil {
		t.Fatalf("import PEM: %v", err)
	}

	// Rebuild a working key pair from each certificate's secret, as the VM extension does.
	for _, name := range []string{"www-pfx", "www-pem"} {
		sec, err := secrets.GetSecret(ctx, name, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var pair tls.Certificate
		switch *sec.ContentType {
		case "application/x-pkcs12":
			raw, _ := base64.StdEncoding.DecodeString(*sec.Value)
			k, leaf, cas, err := pkcs12.DecodeChain(raw, "")
			if err != nil {
				t.Fatalf("%s: PFX secret: %v", name, err)
			}
			pair = tls.Certificate{PrivateKey: k, Certificate: [][]byte{leaf.Raw}}
			for _, c := range cas {
				pair.Certificate = append(pair.Certificate, c.Raw)
			}
		case "application/x-pem-file":
			pair, err = tls.X509KeyPair([]byte(*sec.Value), []byte(*sec.Value))
			if err != nil {
				t.Fatalf("%s: PEM secret is not a key pair: %v", name, err)
			}
		default:
			t.Fatalf("%s: content type %s", name, *sec.ContentType)
		}
		leaf, _ := x509.ParseCertificate(pair.Certificate[0])
		if !leaf.Equal(chain[0]) || !pair.PrivateKey.(*ecdsa.PrivateKey).PublicKey.Equal(leaf.PublicKey) {
			t.Errorf("%s: the rebuilt key pair does not match the imported certificate", name)
		}
		if len(pair.Certificate) != 2 {
			t.Errorf("%s: chain of %d certificates, want leaf and intermediate", name, len(pair.Certificate))
		}
	}
}

// testChain returns a key with its leaf and the intermediate that signed it.
func testChain(t *testing.T) (*ecdsa.PrivateKey, []*x509.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caT, caT, caKey.Public(), caKey)
	ca, _ := x509.ParseCertificate(caDER)
	leafT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "www.example.com"}, DNSNames: []string{"www.example.com"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafT, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return key, []*x509.Certificate{leaf, ca}
}

// imdsToken gets a managed-identity token for the vault from p's metadata service.
func imdsToken(t *testing.T, meta string) string {
	t.Helper()
	body := get(t, "http://"+meta+"/metadata/identity/oauth2/token?api-version=2018-02-01&resource="+url.QueryEscape("https://vault.azure.net"))
	const key = `"access_token":"`
	i := strings.Index(body, key)
	if i < 0 {
		t.Fatalf("no token: %s", body)
	}
	rest := body[i+len(key):]
	return rest[:strings.IndexByte(rest, '"')]
}
