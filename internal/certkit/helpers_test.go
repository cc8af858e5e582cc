package certkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testChain is a three-level chain: root -> intermediate -> leaf, with the
// leaf's private key.
type testChain struct {
	root, inter, leaf *x509.Certificate
	rootKey, interKey crypto.Signer
	leafKey           crypto.Signer
}

func (c testChain) material() Material {
	return Material{Key: c.leafKey, Chain: []*x509.Certificate{c.leaf, c.inter, c.root}}
}

var (
	keyOnce  sync.Once
	rsaKeys  []*rsa.PrivateKey
	ecKeys   []*ecdsa.PrivateKey
	keyError error
)

// testKeys returns RSA and ECDSA keys generated once per test binary; RSA
// generation is slow under -race.
func testKeys(t testing.TB) ([]*rsa.PrivateKey, []*ecdsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		for range 4 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				keyError = err
				return
			}
			rsaKeys = append(rsaKeys, k)
			e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				keyError = err
				return
			}
			ecKeys = append(ecKeys, e)
		}
	})
	if keyError != nil {
		t.Fatal(keyError)
	}
	return rsaKeys, ecKeys
}

var (
	chainOnce sync.Once
	chainRSA  testChain
	chainEC   testChain
	chainErr  error
)

// testChains returns a chain whose keys are all RSA and one whose keys are
// all ECDSA P-256.
func testChains(t testing.TB) (testChain, testChain) {
	t.Helper()
	r, e := testKeys(t)
	chainOnce.Do(func() {
		if chainRSA, chainErr = buildChain(r[0], r[1], r[2], "RSA"); chainErr != nil {
			return
		}
		chainEC, chainErr = buildChain(e[0], e[1], e[2], "EC")
	})
	if chainErr != nil {
		t.Fatal(chainErr)
	}
	return chainRSA, chainEC
}

func buildChain(rootKey, interKey, leafKey crypto.Signer, tag string) (testChain, error) {
	now := time.Now()
	root, err := issue(&x509.Certificate{
		Subject: pkix.Name{CommonName: "certkit test root " + tag}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, rootKey, rootKey.Public(), now)
	if err != nil {
		return testChain{}, err
	}
	inter, err := issue(&x509.Certificate{
		Subject: pkix.Name{CommonName: "certkit test intermediate " + tag}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, root, rootKey, interKey.Public(), now)
	if err != nil {
		return testChain{}, err
	}
	leaf, err := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "www.example.com", Organization: []string{"Example"}},
		DNSNames:    []string{"www.example.com", "example.com"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, inter, interKey, leafKey.Public(), now)
	if err != nil {
		return testChain{}, err
	}
	return testChain{root: root, inter: inter, leaf: leaf, rootKey: rootKey, interKey: interKey, leafKey: leafKey}, nil
}

var serial atomic.Int64

// issue signs tmpl with signer under parent (nil: self-signed).
func issue(tmpl, parent *x509.Certificate, signer crypto.Signer, pub crypto.PublicKey, now time.Time) (*x509.Certificate, error) {
	tmpl.SerialNumber = big.NewInt(serial.Add(1))
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(90 * 24 * time.Hour)
	tmpl.BasicConstraintsValid = true
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemCerts(cs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range cs {
		out = append(out, pemCert(c)...)
	}
	return out
}

// sameChain reports whether got and want hold the same certificates in
// the same order.
func sameChain(t *testing.T, got, want []*x509.Certificate) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("chain has %d certificates, want %d (%v)", len(got), len(want), names(got))
	}
	for i := range got {
		if !got[i].Equal(want[i]) {
			t.Fatalf("chain = %v, want %v", names(got), names(want))
		}
	}
}

func names(cs []*x509.Certificate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Subject.CommonName)
	}
	return out
}

func sameKey(t *testing.T, got crypto.Signer, want crypto.Signer) {
	t.Helper()
	if got == nil {
		t.Fatal("no key")
	}
	k, ok := got.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !k.Equal(want.Public()) {
		t.Fatalf("key %T does not match the expected key", got)
	}
	if p, ok := got.(interface{ Equal(crypto.PrivateKey) bool }); !ok || !p.Equal(want) {
		t.Fatalf("private key %T differs from the expected key", got)
	}
}
