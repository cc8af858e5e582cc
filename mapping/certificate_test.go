package mapping

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"testing"
	"time"
)

func TestParseCertificateFields(t *testing.T) {
	nb := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	der := build(t, certSpec{
		serial:    mustHex(t, "008F112233"),
		notBefore: nb,
		exts: []pkix.Extension{
			san(t, upn("alice@contoso.com"), dns("ws1.contoso.com"), email("alice@contoso.com"), uri(SANURL(mustSID(t, contosoSID)))),
			skiExt(t, []byte{1, 2, 3}),
			policyExt(t, asn1.ObjectIdentifier{1, 2, 3, 4}, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 2, 1, 3, 13}),
			sidExt(t, contosoSID),
		},
	})
	c, err := ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if c.X509Error() != nil {
		t.Errorf("crypto/x509 rejected the fixture: %v", c.X509Error())
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"raw serial keeps sign byte", bytes.Equal(c.RawSerial, mustHex(t, "008F112233"))},
		{"NotBefore", c.NotBefore.Equal(nb)},
		{"UPN", len(c.UPNs) == 1 && c.UPNs[0] == "alice@contoso.com"},
		{"DNS", len(c.DNSNames) == 1 && c.DNSNames[0] == "ws1.contoso.com"},
		{"RFC822", len(c.RFC822Names) == 1 && c.RFC822Names[0] == "alice@contoso.com"},
		{"URI", len(c.URIs) == 1 && c.URIs[0] == SANURLPrefix+contosoSID},
		{"SKI", bytes.Equal(c.SubjectKeyID, []byte{1, 2, 3})},
		{"policies", len(c.PolicyOIDs) == 2 && c.PolicyOIDs[1] == "2.16.840.1.101.3.2.1.3.13"},
		{"SID extension", c.SIDExtension.State == SIDValid && c.SIDExtension.Text == contosoSID && c.SIDExtension.Canonical},
		{"SAN URL", c.SANURL.State == SIDValid},
		{"issuer", c.Issuer == "DC=com,DC=contoso,CN=CONTOSO-DC-CA" && c.IssuerCertain},
		{"subject", c.Subject == "DC=com,DC=contoso,CN=Users,CN=Alice Smith" && c.SubjectCertain},
		{"thumbprint", c.KeyHashes.Thumbprint == sha1.Sum(der)},
		{"SPKI hash", c.KeyHashes.SPKI == sha1.Sum(testSPKI(t))},
		{"not self-signed", !c.SelfSigned()},
		{"no duplicate", !c.DuplicateSIDExtension},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: wrong (%+v)", ch.name, c)
		}
	}
	// subjectPublicKey hash: the BIT STRING contents without the unused-bits byte.
	var spki struct {
		Alg pkix.AlgorithmIdentifier
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(testSPKI(t), &spki); err != nil {
		t.Fatal(err)
	}
	if c.KeyHashes.SubjectPublicKey != sha1.Sum(spki.Key.Bytes) {
		t.Error("subjectPublicKey hash differs")
	}
}

func TestParseCertificateDuplicateSIDExtension(t *testing.T) {
	der := build(t, certSpec{exts: []pkix.Extension{sidExt(t, contosoSID), sidExt(t, "S-1-5-21-1-2-3-4")}})
	c, err := ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if c.X509Error() == nil {
		t.Error("crypto/x509 accepted duplicate extensions; the fixture no longer tests the fallback")
	}
	if !c.DuplicateSIDExtension || c.SIDExtension.Text != contosoSID {
		t.Errorf("duplicate=%v first=%q, want the first copy", c.DuplicateSIDExtension, c.SIDExtension.Text)
	}
}

// TestParseCertificateInterop parses a certificate produced by crypto/x509
// (the openssl-style layout of reference 2.6) and compares fields.
func TestParseCertificateInterop(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(SANURL(mustSID(t, contosoSID)))
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(0x8F112233),
		Subject:         pkix.Name{CommonName: "Alice", Organization: []string{"Contoso"}},
		NotBefore:       time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:        time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		DNSNames:        []string{"ws1.contoso.com"},
		URIs:            []*url.URL{u},
		SubjectKeyId:    []byte{9, 9},
		ExtraExtensions: []pkix.Extension{sidExt(t, contosoSID)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.RawSerial, []byte{0x00, 0x8F, 0x11, 0x22, 0x33}) {
		t.Errorf("serial = %X", c.RawSerial)
	}
	if c.Subject != "O=Contoso,CN=Alice" || !c.SelfSigned() {
		t.Errorf("subject = %q self-signed=%v", c.Subject, c.SelfSigned())
	}
	if c.SANURL.State != SIDValid || c.SIDExtension.State != SIDValid || len(c.DNSNames) != 1 || !bytes.Equal(c.SubjectKeyID, []byte{9, 9}) {
		t.Errorf("interop fields: %+v", c)
	}
}

func TestParseCertificates(t *testing.T) {
	a := build(t, certSpec{serial: []byte{1}})
	b := build(t, certSpec{serial: []byte{2}})
	var pemData []byte
	pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a})...)
	pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})...)
	pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b})...)
	for name, data := range map[string][]byte{"PEM": pemData, "DER": append(append([]byte(nil), a...), b...)} {
		certs, err := ParseCertificates(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(certs) != 2 || certs[0].RawSerial[0] != 1 || certs[1].RawSerial[0] != 2 {
			t.Errorf("%s: got %d certificates", name, len(certs))
		}
	}
	bad := map[string][]byte{
		"empty":          nil,
		"garbage":        []byte("hello"),
		"no cert block":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}),
		"truncated DER":  a[:len(a)-1],
		"bad PEM body":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0}}),
		"second invalid": append(append([]byte(nil), a...), 0x30, 0x01, 0x00),
	}
	for name, data := range bad {
		if _, err := ParseCertificates(data); !errors.Is(err, ErrMalformedCertificate) {
			t.Errorf("%s: err = %v, want ErrMalformedCertificate", name, err)
		}
	}
	if _, err := ParseCertificate(make([]byte, MaxCertificateSize+1)); !errors.Is(err, ErrMalformedCertificate) {
		t.Errorf("oversized: err = %v", err)
	}
}

func TestParseGeneralizedTime(t *testing.T) {
	want := time.Date(2024, 1, 15, 9, 30, 12, 0, time.UTC)
	for in, w := range map[string]time.Time{
		"20240115093012.0Z":     want,
		"20240115093012Z":       want,
		"20240115093012.5Z":     want.Add(500 * time.Millisecond),
		"20240115183012+0900":   want,
		"20240115093012.0-0100": want.Add(time.Hour),
	} {
		got, err := ParseGeneralizedTime(in)
		if err != nil || !got.Equal(w) || got.Location() != time.UTC {
			t.Errorf("ParseGeneralizedTime(%q) = %v, %v; want %v", in, got, err, w)
		}
	}
	for _, in := range []string{"", "2024", "20240115093012", "20240115093012.Z", "20240115093012+2500", "2024011509301xZ"} {
		if _, err := ParseGeneralizedTime(in); err == nil {
			t.Errorf("ParseGeneralizedTime(%q) accepted", in)
		}
	}
}

func TestClassFromUserAccountControl(t *testing.T) {
	for uac, want := range map[uint32]AccountClass{0x200: ClassUser, 0x1000: ClassComputer, 0x2000 | 0x1000: ClassDomainController, 0x800: ClassTrust} {
		if got := ClassFromUserAccountControl(uac); got != want {
			t.Errorf("uac %#x = %s, want %s", uac, got, want)
		}
	}
}
