package pki

import (
	"crypto/rsa"
	"crypto/x509"
	"slices"
	"testing"
	"time"
)

// TestLeafProfile checks §6.4 and §6.1 on every cloud profile; the public
// case uses the production defaults (RSA-4096 CAs, RSA-2048 leaf).
func TestLeafProfile(t *testing.T) {
	for _, tc := range []struct {
		profile, domain, base, region string
		defaults                      bool
	}{
		{ProfilePublic, "", "metadata.azure.com", "eastus", true},
		{ProfileUSGov, "", "metadata.azure.us", "usgovvirginia", false},
		{ProfileChina, "", "metadata.azure.cn", "chinaeast2", false},
		{ProfileGermany, "", "metadata.microsoftazure.de", "germanycentral", false},
		{ProfileCustom, "metadata.cloud.example", "metadata.cloud.example", "local", false},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			if tc.defaults && testing.Short() {
				t.Skip("RSA-4096 key generation is slow")
			}
			p := testPlan("http://ca.example/pki")
			if tc.defaults {
				p = Plan{AIABaseURL: "http://ca.example/pki"}
			}
			p.Profile, p.Domain = tc.profile, tc.domain
			now := testStart.Add(time.Hour)
			a := openTest(t, t.TempDir(), testMaster(t, 1), p, &fakeClock{t: now})
			_, leaf, chain, err := a.Signer(now)
			if err != nil {
				t.Fatal(err)
			}
			sub, root := chain[0], chain[len(chain)-1]
			if leaf.Subject.CommonName != tc.base || !slices.Equal(leaf.DNSNames, []string{tc.base, tc.region + "." + tc.base}) {
				t.Errorf("leaf CN %q SANs %v", leaf.Subject.CommonName, leaf.DNSNames)
			}
			if leaf.IsCA || !leaf.BasicConstraintsValid || leaf.KeyUsage != x509.KeyUsageDigitalSignature ||
				!slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
				t.Errorf("leaf CA=%v KU=%v EKU=%v", leaf.IsCA, leaf.KeyUsage, leaf.ExtKeyUsage)
			}
			if len(leaf.SubjectKeyId) == 0 || string(leaf.AuthorityKeyId) != string(sub.SubjectKeyId) {
				t.Error("leaf SKI missing or AKI does not match the Sub CA's SKI")
			}
			if !slices.Equal(leaf.IssuingCertificateURL, []string{"http://ca.example/pki/issuing-ca-01.crt"}) ||
				!slices.Equal(sub.IssuingCertificateURL, []string{"http://ca.example/pki/root-ca-01.crt"}) {
				t.Errorf("AIA leaf %v Sub CA %v", leaf.IssuingCertificateURL, sub.IssuingCertificateURL)
			}
			if !sub.IsCA || sub.MaxPathLen != 0 || !sub.MaxPathLenZero || !slices.Equal(sub.PermittedDNSDomains, []string{tc.base}) ||
				sub.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign|x509.KeyUsageDigitalSignature {
				t.Errorf("Sub CA profile: pathlen %d/%v constraints %v KU %v", sub.MaxPathLen, sub.MaxPathLenZero, sub.PermittedDNSDomains, sub.KeyUsage)
			}
			if len(root.ExtKeyUsage) != 0 || !root.IsCA || root.CheckSignatureFrom(root) != nil {
				t.Error("root is not a self-signed CA without EKU")
			}
			if tc.defaults {
				if k, ok := leaf.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 2048 {
					t.Errorf("default leaf key %T, want RSA-2048", leaf.PublicKey)
				}
				if k, ok := root.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 4096 {
					t.Errorf("default root key %T, want RSA-4096", root.PublicKey)
				}
				if got := leaf.NotAfter.Sub(now); got != 72*time.Hour {
					t.Errorf("default leaf lives %s after issue, want 72h", got)
				}
			}
		})
	}
}
