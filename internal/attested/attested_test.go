package attested

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/tegata-project/tegata/attest"
	"github.com/tegata-project/tegata/internal/instance"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// miniPKI is root -> sub CA -> leaf for metadata.azure.com, made for the test.
type miniPKI struct {
	root, sub, leaf *x509.Certificate
	key             crypto.Signer
}

func (p *miniPKI) Signer(time.Time) (crypto.Signer, *x509.Certificate, []*x509.Certificate, error) {
	return p.key, p.leaf, []*x509.Certificate{p.sub, p.root}, nil
}

func newMiniPKI(t *testing.T) *miniPKI {
	t.Helper()
	issue := func(tmpl *x509.Certificate, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		if parent == nil {
			parent, parentKey = tmpl, k
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, k
	}
	ca := func(cn string, n int64) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: cn}, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(365 * 24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	root, rootKey := issue(ca("Test Root", 1), nil, nil)
	sub, subKey := issue(ca("Test Sub CA 01", 2), root, rootKey)
	leaf, leafKey := issue(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "metadata.azure.com"},
		DNSNames: []string{"metadata.azure.com", "westeurope.metadata.azure.com"}, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}, sub, subKey)
	return &miniPKI{root: root, sub: sub, leaf: leaf, key: leafKey}
}

func TestResponseVerifies(t *testing.T) {
	pki := newMiniPKI(t)
	vm := instance.Generated("3f1c8a52-6d0e-4b7a-9c2f-1e5d7a9b0c11")
	for _, azure := range []bool{true, false} {
		s, err := New(pki, Options{TTL: 6 * time.Hour, Cache: CacheHonour, AzureProfile: azure, Clock: func() time.Time { return t0 }})
		if err != nil {
			t.Fatal(err)
		}
		body, err := s.Response(vm, "2025-04-07", "abcdef1234")
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(pki.root)
		opts := attest.VerifyOptions{Roots: roots, Nonce: "abcdef1234", At: t0}
		if azure {
			// Azure's envelope carries the leaf only: the Sub CA must come from elsewhere.
			if _, err := attest.Verify(context.Background(), body, opts); !errors.Is(err, attest.ErrUntrustedChain) {
				t.Fatalf("azure profile without intermediates: %v, want ErrUntrustedChain", err)
			}
			opts.Intermediates = []attest.IntermediateSource{attest.StaticIntermediates(pki.sub)}
		}
		res, err := attest.Verify(context.Background(), body, opts)
		if err != nil {
			t.Fatalf("azure=%v: %v", azure, err)
		}
		d := res.Document
		if d.VMID != vm.Compute.VMID || d.SubscriptionID != vm.Compute.SubscriptionID || d.SKU != vm.Compute.SKU || !d.TimeStamp.ExpiresOn.Equal(t0.Add(6*time.Hour)) {
			t.Fatalf("document %+v does not describe the VM", d)
		}
		env, err := attest.Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := env.DigestAlgorithm.Equal(attest.OIDSHA256WithRSA), azure; got != want {
			t.Errorf("azure=%v: digest OID %v", azure, env.DigestAlgorithm)
		}
		if wantCerts := map[bool]int{true: 1, false: 2}[azure]; len(env.Certificates) != wantCerts {
			t.Errorf("azure=%v: %d certificates embedded, want %d", azure, len(env.Certificates), wantCerts)
		}
	}
}

func TestCacheModes(t *testing.T) {
	pki := newMiniPKI(t)
	vm := instance.Generated("3f1c8a52-6d0e-4b7a-9c2f-1e5d7a9b0c11")
	now := t0
	clock := func() time.Time { return now }

	honour, _ := New(pki, Options{TTL: 6 * time.Hour, Cache: CacheHonour, AzureProfile: true, Clock: clock})
	a, _ := honour.Response(vm, "2025-04-07", "nonce1")
	b, _ := honour.Response(vm, "2025-04-07", "nonce2")
	a2, _ := honour.Response(vm, "2025-04-07", "nonce1")
	if bytes.Equal(a, b) || !bytes.Equal(a, a2) {
		t.Fatal("honour: a new nonce must sign anew and a repeated one reuse the document")
	}
	noNonce, _ := honour.Response(vm, "2025-04-07", "")
	if !bytes.Contains(decode(t, noNonce), []byte(`"nonce":"20261201-120000"`)) {
		t.Fatalf("default nonce: %s", decode(t, noNonce))
	}

	azure, _ := New(pki, Options{TTL: 6 * time.Hour, Cache: CacheAzure, AzureProfile: true, Clock: clock})
	first, _ := azure.Response(vm, "2025-04-07", "nonce1")
	second, _ := azure.Response(vm, "2025-04-07", "nonce2")
	if !bytes.Equal(first, second) || !bytes.Contains(decode(t, second), []byte(`"nonce":"nonce1"`)) {
		t.Fatal("azure cache mode: the cached document (with the old nonce) must come back")
	}
	now = t0.Add(6*time.Hour + time.Second)
	third, _ := azure.Response(vm, "2025-04-07", "nonce2")
	if !bytes.Contains(decode(t, third), []byte(`"nonce":"nonce2"`)) {
		t.Fatal("after expiry a new document must be signed")
	}
}

func decode(t *testing.T, body []byte) []byte {
	t.Helper()
	env, err := attest.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	return env.Content
}

func TestOptionsValidated(t *testing.T) {
	if _, err := New(nil, Options{TTL: 0, Cache: CacheHonour}); err == nil {
		t.Error("zero TTL accepted")
	}
	if _, err := New(nil, Options{TTL: time.Hour, Cache: "sometimes"}); err == nil {
		t.Error("unknown cache mode accepted")
	}
}
