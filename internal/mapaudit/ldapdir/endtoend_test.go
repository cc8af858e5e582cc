package ldapdir_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/mapaudit"
	"github.com/tegata-project/tegata/internal/mapaudit/ldapdir"
	"github.com/tegata-project/tegata/internal/pki"
	"github.com/tegata-project/tegata/internal/testenv"
	"github.com/tegata-project/tegata/mapping"
)

// TestIssuedCertificatesAgainstSambaAccounts is the data path end to end:
// certificates issued by tegata's client CA for accounts looked up in
// Samba, judged by mapping.Decide against the accounts Read returns, on a
// fully patched DC in full enforcement; then a fix written with Apply
// turns a certificate without a SID into a strongly mapped one.
func TestIssuedCertificatesAgainstSambaAccounts(t *testing.T) {
	s := testenv.SharedSamba(t)
	user := s.CreateUser(t, "e2e-frank")
	other := s.CreateUser(t, "e2e-grace")
	computer := s.CreateComputer(t, "E2EWS")
	ctx, cfg := context.Background(), adminConfig(s)

	master, err := pki.NewMasterKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	auth, err := pki.Open(t.TempDir(), master, pki.Plan{CAKeyAlgorithm: pki.KeyECDSAP384, KeyAlgorithm: pki.KeyECDSAP256}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	issue := func(account string, sidOf string) *mapping.Certificate {
		t.Helper()
		acct, err := ldapdir.LookupAccount(ctx, cfg, account) // as `tegata pki issue-client --ldap` does
		if err != nil {
			t.Fatal(err)
		}
		req := pki.ClientRequest{SID: acct.ObjectSID, UPN: acct.UserPrincipalName, DNSName: acct.DNSHostName}
		if req.UPN != "" {
			req.DNSName = ""
		}
		if sidOf != "" {
			wrong, err := ldapdir.LookupAccount(ctx, cfg, sidOf)
			if err != nil {
				t.Fatal(err)
			}
			req.SID = wrong.ObjectSID
		}
		cc, err := auth.IssueClient(req, now)
		if err != nil {
			t.Fatal(err)
		}
		mc, err := mapping.ParseCertificate(cc.Certificate.Raw)
		if err != nil {
			t.Fatal(err)
		}
		mc.NTAuth = mapping.NTAuthYes
		return mc
	}
	rightUser := issue(user.SAMAccountName, "")
	wrongUser := issue(user.SAMAccountName, other.SID)
	rightComputer := issue("e2ews.corp.test", "")
	noSID := certificateWithoutSID(t, user.UserPrincipalName)

	dc := mapping.DCState{OS: mapping.OS2022, AsOf: now, StrongCertificateBindingEnforcement: mapping.DWORD(2)}
	read := func() *mapaudit.Directory {
		dir, err := ldapdir.Read(ctx, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dir := read()
	frank, ws := byDN(t, dir, user.DN), byDN(t, dir, computer.DN)
	for _, c := range []struct {
		name    string
		cert    *mapping.Certificate
		acct    mapaudit.DirectoryAccount
		allowed bool
	}{
		{"user, right SID", rightUser, frank, true},
		{"computer, right SID", rightComputer, ws, true},
		{"user, another account's SID", wrongUser, frank, false},
		{"user, no SID and no explicit mapping", noSID, frank, false},
	} {
		v := mapping.Decide(c.cert, &c.acct.Account, dc)
		if v.Allowed != c.allowed {
			t.Errorf("%s: allowed %v (%s: %s), want %v", c.name, v.Allowed, v.Path, v.Reason, c.allowed)
		}
	}

	// The audit's fix for the certificate without a SID: its strong
	// <I>...<SR> value, written with Apply and read back.
	var srValue string
	for _, v := range mapping.StrongMappings(noSID) {
		if strings.Contains(v, "<SR>") {
			srValue = v
		}
	}
	res, err := ldapdir.Apply(ctx, cfg, []mapaudit.Fix{{DN: frank.DN, SID: frank.ObjectSID.String(), Value: srValue}})
	if err != nil || len(res) != 1 || res[0].Status != mapaudit.FixAdded {
		t.Fatalf("Apply %q: %+v %v", srValue, res, err)
	}
	frank = byDN(t, read(), user.DN)
	if v := mapping.Decide(noSID, &frank.Account, dc); !v.Allowed || v.Mapping.Strength != mapping.Strong {
		t.Errorf("after the fix: allowed %v, strength %v (%s), want allowed by a strong explicit mapping", v.Allowed, v.Mapping.Strength, v.Reason)
	}
}

// certificateWithoutSID is a client certificate from a CA that adds no SID
// (an offline or third-party CA), with the user's UPN as its subject.
func certificateWithoutSID(t *testing.T, upn string) *mapping.Certificate {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Offline Issuing CA", Organization: []string{"Corp"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(0x1a2b3c4d5e6f),
		Subject: pkix.Name{CommonName: upn}, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := mapping.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	mc.NTAuth = mapping.NTAuthYes
	return mc
}
