package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/testenv"
	"github.com/tegata-project/tegata/mapping"
)

var clientSID = mustSID("S-1-5-21-3623811015-3361044348-30300820-1013")

func mustSID(s string) mapping.SID {
	sid, err := mapping.ParseSID(s)
	if err != nil {
		panic(err)
	}
	return sid
}

func TestIssueClientUserMapsStrongly(t *testing.T) {
	clk := &fakeClock{t: testStart.Add(time.Hour)}
	a := openTest(t, t.TempDir(), testMaster(t, 1), testPlan("http://pki.corp.test/pki"), clk)
	now := clk.Now()
	cc, err := a.IssueClient(ClientRequest{SID: clientSID, UPN: "alice@corp.test", SANURL: true, SmartCardLogon: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := cc.Certificate
	mc, err := mapping.ParseCertificate(leaf.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if mc.SIDExtension.State != mapping.SIDValid || mc.SIDExtension.Text != clientSID.String() {
		t.Errorf("SID extension: %+v, want %s", mc.SIDExtension, clientSID)
	}
	if want := mapping.SANURLPrefix + clientSID.String(); len(mc.URIs) != 1 || mc.URIs[0] != want || mc.SANURL.State != mapping.SIDValid {
		t.Errorf("SAN URIs %q (%+v), want %q", mc.URIs, mc.SANURL, want)
	}
	if len(mc.UPNs) != 1 || mc.UPNs[0] != "alice@corp.test" || len(mc.DNSNames) != 0 {
		t.Errorf("UPNs %q DNS %q, want the UPN alone", mc.UPNs, mc.DNSNames)
	}
	if len(mc.SubjectKeyID) == 0 || !bytes.Equal(mc.SubjectKeyID, leaf.SubjectKeyId) {
		t.Errorf("SKI %x", mc.SubjectKeyID)
	}
	if len(mc.RawSerial) < 8 || mc.RawSerial[0] == 0 || mc.RawSerial[0]&0x80 != 0 {
		t.Errorf("serial %x: want at least 64 bits, no 00 sign byte, top bit clear", mc.RawSerial)
	}
	var sr bool
	for _, v := range mapping.StrongMappings(mc) {
		if strings.Contains(v, "<SR>"+mapping.ReversedSerial(mc.RawSerial)) && strings.HasPrefix(v, "X509:<I>") {
			sr = true
		}
	}
	if !sr {
		t.Errorf("StrongMappings = %q, want an X509:<I>...<SR> value", mapping.StrongMappings(mc))
	}
	if !mc.IssuerCertain || strings.ContainsAny(mc.Issuer, `"`) {
		t.Errorf("issuer rendering %q (certain %v) needs quoting or is uncertain", mc.Issuer, mc.IssuerCertain)
	}
	for _, e := range leaf.Extensions {
		if e.Id.Equal(mapping.OIDSIDExtension) && e.Critical {
			t.Error("SID extension is critical")
		}
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth ||
		len(leaf.UnknownExtKeyUsage) != 1 || !leaf.UnknownExtKeyUsage[0].Equal(oidSmartCardLogon) {
		t.Errorf("key usage %v, EKU %v %v", leaf.KeyUsage, leaf.ExtKeyUsage, leaf.UnknownExtKeyUsage)
	}
	if d := now.Sub(leaf.NotBefore); d < 0 || d > 5*time.Minute {
		t.Errorf("NotBefore %s is %s before now", leaf.NotBefore, d)
	}
	if len(leaf.IssuingCertificateURL) != 1 || leaf.IssuingCertificateURL[0] != "http://pki.corp.test/pki/client-ca.crt" {
		t.Errorf("AIA %q", leaf.IssuingCertificateURL)
	}
	if _, ok := cc.Key.(*ecdsa.PrivateKey); !ok {
		t.Errorf("default key %T, want ECDSA P-256", cc.Key)
	}
	// The chain verifies for client authentication up to the root.
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(cc.Chain[1])
	inter.AddCert(cc.Chain[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("chain: %v", err)
	}
}

func TestIssueClientComputerRSAAndDecide(t *testing.T) {
	clk := &fakeClock{t: testStart.Add(time.Hour)}
	a := openTest(t, t.TempDir(), testMaster(t, 2), testPlan("http://127.0.0.1:8255/pki"), clk)
	cc, err := a.IssueClient(ClientRequest{SID: clientSID, DNSName: "ws1.corp.test", KeyAlgorithm: KeyRSA2048,
		CRLURL: "http://pki.corp.test/client.crl", Validity: 30 * 24 * time.Hour}, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf := cc.Certificate
	if _, ok := cc.Key.(*rsa.PrivateKey); !ok || leaf.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
		t.Errorf("RSA key %T with key usage %v, want digitalSignature|keyEncipherment", cc.Key, leaf.KeyUsage)
	}
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "ws1.corp.test" || len(leaf.URIs) != 0 || len(leaf.CRLDistributionPoints) != 1 {
		t.Errorf("DNS %q URIs %q CDP %q", leaf.DNSNames, leaf.URIs, leaf.CRLDistributionPoints)
	}
	if got := leaf.NotAfter.Sub(clk.Now()); got != 30*24*time.Hour {
		t.Errorf("validity %s", got)
	}
	mc, err := mapping.ParseCertificate(leaf.Raw)
	if err != nil {
		t.Fatal(err)
	}
	// A computer whose objectSid is the one in the certificate is allowed
	// by the SID check on a fully patched DC in full enforcement (the
	// implicit dNSHostName mapping itself is weak).
	acct := &mapping.Account{ObjectSID: clientSID, DNSHostName: "ws1.corp.test", SAMAccountName: "WS1$",
		Class: mapping.ClassComputer, WhenCreated: clk.Now().Add(-24 * time.Hour)}
	dc := mapping.DCState{OS: mapping.OS2022, StrongCertificateBindingEnforcement: mapping.DWORD(2)}
	if v := mapping.Decide(mc, acct, dc); !v.Allowed || !strings.Contains(v.Reason, "SID") {
		t.Errorf("verdict %v %v %s: want allowed by the SID", v.Allowed, v.Mapping.Strength, v.Reason)
	}
	other := *acct
	other.ObjectSID = mustSID("S-1-5-21-3623811015-3361044348-30300820-1999")
	if v := mapping.Decide(mc, &other, dc); v.Allowed {
		t.Errorf("another account's SID was allowed: %s", v.Reason)
	}
}

func TestClientCAIsCreatedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: testStart.Add(time.Hour)}
	m := testMaster(t, 3)
	a := openTest(t, dir, m, testPlan("http://127.0.0.1:8255/pki"), clk)
	ca1, root, err := a.ClientCA(clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := ca1.CheckSignatureFrom(root); err != nil || !ca1.IsCA || ca1.MaxPathLen != 0 || !ca1.MaxPathLenZero {
		t.Errorf("client CA: %v, IsCA %v, pathlen %d", err, ca1.IsCA, ca1.MaxPathLen)
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", ClientCAName+".key.json")); err != nil {
		t.Errorf("client CA key not stored: %v", err)
	}
	b := openTest(t, dir, m, testPlan("http://127.0.0.1:8255/pki"), clk)
	ca2, _, err := b.ClientCA(clk.Now())
	if err != nil || !ca2.Equal(ca1) {
		t.Errorf("reopened client CA differs (%v)", err)
	}
	// Its leaves name <base>/client-ca.crt as CA Issuers: the AIA endpoint serves it.
	rec := httptest.NewRecorder()
	b.AIAHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/pki/"+ClientCAName+".crt", nil))
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), ca1.Raw) {
		t.Errorf("AIA %s.crt: %d, %d bytes; want the client CA", ClientCAName, rec.Code, rec.Body.Len())
	}
}

func TestIssueClientRefusesBadRequests(t *testing.T) {
	clk := &fakeClock{t: testStart.Add(time.Hour)}
	a := openTest(t, t.TempDir(), testMaster(t, 5), testPlan("http://127.0.0.1:8255/pki"), clk)
	for _, req := range []ClientRequest{
		{UPN: "alice@corp.test"},
		{SID: clientSID},
		{SID: clientSID, UPN: "alice@corp.test", DNSName: "ws1.corp.test"},
		{SID: clientSID, UPN: "alice"},
		{SID: clientSID, DNSName: "ws1..corp"},
		{SID: clientSID, DNSName: "ws1.corp.test", KeyAlgorithm: KeyRSA4096},
		{SID: clientSID, DNSName: "ws1.corp.test", Validity: 10 * 365 * 24 * time.Hour},
		{SID: clientSID, DNSName: "ws1.corp.test", CRLURL: "file:///x.crl"},
	} {
		if _, err := a.IssueClient(req, clk.Now()); !errors.Is(err, ErrInvalidClientRequest) {
			t.Errorf("IssueClient(%+v): %v, want ErrInvalidClientRequest", req, err)
		}
	}
}

// TestIssueClientOpenSSL checks that openssl reads the SID extension and
// the SAN as reference 2.6 shows them.
func TestIssueClientOpenSSL(t *testing.T) {
	openssl := testenv.Program(t, "openssl", "openssl")
	clk := &fakeClock{t: testStart.Add(time.Hour)}
	a := openTest(t, t.TempDir(), testMaster(t, 6), testPlan("http://127.0.0.1:8255/pki"), clk)
	cc, err := a.IssueClient(ClientRequest{SID: clientSID, UPN: "alice@corp.test", SANURL: true}, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(openssl, "x509", "-noout", "-text")
	cmd.Stdin = bytes.NewReader(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cc.Certificate.Raw}))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s", err, out)
	}
	for _, want := range []string{"1.3.6.1.4.1.311.25.2:", "URI:tag:microsoft.com,2022-09-14:sid:" + clientSID.String(),
		"X509v3 Subject Key Identifier", "TLS Web Client Authentication"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("openssl output lacks %q:\n%s", want, out)
		}
	}
}
