package renew

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"

	"github.com/tegata-project/tegata/internal/renew/acme"
	"github.com/tegata-project/tegata/internal/renew/dnsprov"
	"github.com/tegata-project/tegata/internal/testenv"
)

// TestAdoptAcmebotCertificate: a certificate that acmebot issued into the vault
// (from the same CA, with acmebot's tag) is adopted from the vault's listing
// without a new issue, then renewed by tegata like one of its own; untagged
// certificates and another tegata instance's are left alone, and a dry run
// records nothing.
func TestAdoptAcmebotCertificate(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	s := newTestService(t, peb, tv, time.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// What acmebot left behind: a certificate from the CA, imported with its key
	// and acmebot v5's tag.
	prov, err := dnsprov.New("challtestsrv", map[string]string{"url": peb.ChallTestSrvURL})
	if err != nil {
		t.Fatal(err)
	}
	issued, err := acmeClient(t, peb.DirectoryURL, peb.HTTPClient()).Obtain(ctx, acme.Order{
		Names:  []string{"legacy.example.test", "www.legacy.example.test"},
		Solver: acme.DNS01{Provider: prov, Resolvers: []string{peb.DNSAddr}, PropagationTimeout: 5 * time.Second, PollingInterval: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := url.Parse(peb.DirectoryURL)
	certs, err := azcertificates.NewClient(tv.url, tv.cred, &azcertificates.ClientOptions{ClientOptions: tv.opts, DisableChallengeResourceVerification: true})
	if err != nil {
		t.Fatal(err)
	}
	imported := importPEM(t, ctx, certs, "legacy-example-test", issued, map[string]string{
		"Acmebot": `{"endpoint":"` + dir.Host + `","dnsProvider":"test-dns","dnsAlias":""}`,
	})
	importPEM(t, ctx, certs, "hand-made", issued, nil)
	importPEM(t, ctx, certs, "other-instance", issued, map[string]string{"tegata": `{"v":1,"managedBy":"elsewhere","endpoint":"` + dir.Host + `"}`})

	dry, err := s.Adopt(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(dry) != 2 {
		t.Fatalf("dry run reported %+v: want the acmebot and the other-instance certificates", dry)
	}
	byName := map[string]Adopted{}
	for _, a := range dry {
		byName[a.Name] = a
	}
	if a := byName["legacy-example-test"]; !a.Adopted || a.By != "acmebot" || a.DNSProvider != "test-dns" || len(a.DNSNames) != 2 {
		t.Errorf("acmebot's certificate on a dry run: %+v", a)
	}
	if a := byName["other-instance"]; a.Adopted || a.Reason == "" {
		t.Errorf("another instance's certificate: %+v", a)
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Fatalf("a dry run recorded %+v", list)
	}

	if _, err := s.Adopt(ctx, false); err != nil {
		t.Fatal(err)
	}
	list, _ := s.List(ctx)
	if len(list) != 1 || list[0].Name != "legacy-example-test" || list[0].Version != imported || list[0].Issued != 0 ||
		!list[0].NotAfter.Equal(issued.Chain[0].NotAfter) || list[0].NextRenewal.IsZero() {
		t.Fatalf("after adoption: %+v (imported version %s)", list, imported)
	}
	again, _ := s.Adopt(ctx, false)
	for _, a := range again {
		if a.Name == "legacy-example-test" && (a.Adopted || a.Reason == "") {
			t.Errorf("a second adoption took it again: %+v", a)
		}
	}

	got, err := s.Renew(ctx, "legacy-example-test")
	if err != nil {
		t.Fatalf("renewing the adopted certificate: %v", err)
	}
	cur, _ := s.o.Vault.current(ctx, "legacy-example-test")
	if got.Version == imported || cur == nil || cur.Version != got.Version || len(cur.Leaf.DNSNames) != 2 {
		t.Fatalf("after the renewal: status %+v, vault %+v", got, cur)
	}
	if ad, ok := ReadTags(cur.Tags); !ok || ad.By != "tegata" {
		t.Errorf("the renewed version's tags %v: want tegata's", cur.Tags)
	}
}

// importPEM imports cert's chain and key into the vault under name; it returns
// the version.
func importPEM(t *testing.T, ctx context.Context, c *azcertificates.Client, name string, cert *acme.Certificate, tags map[string]string) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(cert.Key)
	if err != nil {
		t.Fatal(err)
	}
	bundle := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), cert.PEM...)
	params := azcertificates.ImportCertificateParameters{
		Base64EncodedCertificate: to.Ptr(string(bundle)),
		CertificatePolicy:        &azcertificates.CertificatePolicy{SecretProperties: &azcertificates.SecretProperties{ContentType: to.Ptr("application/x-pem-file")}},
		Tags:                     map[string]*string{},
	}
	for k, v := range tags {
		params.Tags[k] = to.Ptr(v)
	}
	resp, err := c.ImportCertificate(ctx, name, params, nil)
	if err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
	return resp.ID.Version()
}
