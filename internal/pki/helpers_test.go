package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/tegata-project/tegata/attest"
)

var testStart = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeClock is the injected clock; tests move it instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func testMaster(t testing.TB, b byte) MasterKey {
	t.Helper()
	m, err := NewMasterKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testPlan is a fast plan: ECDSA keys, a 30-day cadence with 10 days' lead.
func testPlan(aiaBase string) Plan {
	return Plan{
		Start: testStart, CAKeyAlgorithm: KeyECDSAP384, KeyAlgorithm: KeyECDSAP256,
		Cadence: 30 * 24 * time.Hour, Lead: 10 * 24 * time.Hour, SubCAValidity: 60 * 24 * time.Hour,
		LeafValidity: 72 * time.Hour, AIABaseURL: aiaBase,
	}
}

func openTest(t testing.TB, dir string, m MasterKey, p Plan, clk *fakeClock) *Authority {
	t.Helper()
	a, err := Open(dir, m, p, clk.Now)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return a
}

// signDoc signs a document created at now with the Authority's current
// signer, embedding the given certificates.
func signDoc(t testing.TB, signer crypto.Signer, leaf *x509.Certificate, embed []*x509.Certificate, now time.Time) []byte {
	t.Helper()
	doc := attest.Document{
		Nonce: "n1", SubscriptionID: "5f130ffc-0a3e-4795-b691-4f56a12a5547", VMID: "bd8e7443-24a0-41f3-b949-8baf4fd1c573",
		TimeStamp: attest.TimeStamp{CreatedOn: now, ExpiresOn: now.Add(6 * time.Hour)},
	}
	der, err := attest.Sign(doc.MarshalAzure("2021-01-01"), signer, leaf, attest.SignOptions{Intermediates: embed})
	if err != nil {
		t.Fatalf("attest.Sign: %v", err)
	}
	return attest.MarshalResponse(der)
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func verifyAt(data []byte, roots []*x509.Certificate, now time.Time, sources ...attest.IntermediateSource) (*attest.Result, error) {
	return attest.Verify(context.Background(), data, attest.VerifyOptions{
		Roots: pool(roots...), Intermediates: sources, At: now, Nonce: "n1",
		SignerNames: []string{attest.CloudPublic},
	})
}

func byCN(certs []*x509.Certificate, cn string) *x509.Certificate {
	for _, c := range certs {
		if c.Subject.CommonName == cn {
			return c
		}
	}
	return nil
}
