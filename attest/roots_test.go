package attest

import (
	"context"
	"testing"
)

func TestAzureRoots(t *testing.T) {
	certs := AzureRootCertificates()
	if len(certs) != 6 {
		t.Fatalf("%d embedded roots, want 6", len(certs))
	}
	for _, c := range certs {
		// Baltimore's self-signature is SHA-1, which crypto/x509 no longer checks, so
		// compare names rather than signatures.
		if !c.IsCA || c.Subject.String() != c.Issuer.String() {
			t.Errorf("%s is not a self-issued CA", c.Subject)
		}
	}
	// The real 2024 document verifies with the embedded roots and the Microsoft
	// intermediates bundle, offline, at its own signing time.
	res, err := Verify(context.Background(), readTestdata(t, "azure-attested/rsa-2024.json"), VerifyOptions{
		Roots:         AzureRoots(),
		Intermediates: []IntermediateSource{BundleDir("testdata/azure-ca")},
		At:            signingTime(t, "rsa-2024"),
	})
	if err != nil {
		t.Fatalf("rsa-2024 with AzureRoots: %v", err)
	}
	if root := res.Chain[len(res.Chain)-1]; !root.IsCA {
		t.Fatalf("chain ends in %s", root.Subject)
	}
}

// TestParseCertificatesWithComments: PEM with text before the blocks (tegata's
// bundle.pem names each CA in a comment line) reads like plain PEM.
func TestParseCertificatesWithComments(t *testing.T) {
	var data []byte
	for _, name := range []string{"digicert-global-root-g2", "microsoft-rsa-root-certificate-authority-2017"} {
		data = append(data, "# "+name+"\n"...)
		data = append(data, readTestdata(t, "azure-ca/"+name+".pem")...)
	}
	certs, err := ParseCertificates(data)
	if err != nil || len(certs) != 2 {
		t.Fatalf("ParseCertificates: %d certificates, %v", len(certs), err)
	}
}
