package attest

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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Test vectors are copies of /work/shared/testdata (see testdata/README).

func readTestdata(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func caCert(t testing.TB, slug string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(readTestdata(t, "azure-ca/"+slug+".pem"))
	if blk == nil {
		t.Fatalf("no PEM in %s", slug)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// signingTime returns the document's createdOn from its .at file.
func signingTime(t testing.TB, name string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, strings.TrimSpace(string(readTestdata(t, "azure-attested/"+name+".at"))))
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// testCA is one certificate and key of a PKI made in the test.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var testEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var serial int64 = 1000

func issue(t testing.TB, tmpl *x509.Certificate, parent *testCA, key crypto.Signer) *testCA {
	t.Helper()
	if key == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = testEpoch.Add(-24 * time.Hour)
		tmpl.NotAfter = testEpoch.Add(365 * 24 * time.Hour)
	}
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: c, key: key}
}

func caTemplate(cn string, aia ...string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"tegata test"}},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		IssuingCertificateURL: aia,
	}
}

func leafTemplate(names []string, aia ...string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IssuingCertificateURL: aia,
	}
}

// testPKI is root -> sub -> leaf, the shape tegata's own signer uses.
type testPKI struct {
	root, sub, leaf *testCA
}

func newPKI(t testing.TB, leafNames []string, leafAIA ...string) testPKI {
	t.Helper()
	root := issue(t, caTemplate("Test Root"), nil, nil)
	sub := issue(t, caTemplate("Test Sub CA 01"), root, nil)
	leaf := issue(t, leafTemplate(leafNames, leafAIA...), sub, nil)
	return testPKI{root: root, sub: sub, leaf: leaf}
}

func ecKey(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testDoc is a valid document at testEpoch.
func testDoc(nonce string) Document {
	return Document{
		Nonce:          nonce,
		SKU:            "22_04-lts-gen2",
		SubscriptionID: "5f130ffc-0a3e-4795-b691-4f56a12a5547",
		TimeStamp:      TimeStamp{CreatedOn: testEpoch, ExpiresOn: testEpoch.Add(6 * time.Hour)},
		VMID:           "bd8e7443-24a0-41f3-b949-8baf4fd1c573",
	}
}
