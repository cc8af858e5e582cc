package attest

import (
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"path"
)

// The public roots that Azure's attested-document chains end in (reference §3.2 of
// docs/attestation: DigiCert Global Root G2 and G3, Microsoft RSA and ECC Root
// Certificate Authority 2017, Microsoft TLS RSA Root G2, and Baltimore CyberTrust Root,
// which expired in May 2025 and only verifies older documents with VerifyOptions.At).
// They ship with the package so that verification works without internet and without
// depending on an operating system's trust store.
//
//go:embed roots/*.pem
var azureRootFiles embed.FS

// AzureRoots returns a new pool of the roots Azure's attested documents chain to. Pass it
// as VerifyOptions.Roots to verify documents from Azure; a private cloud signed by
// tegata's PKI uses its own roots instead.
func AzureRoots() *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range AzureRootCertificates() {
		pool.AddCert(c)
	}
	return pool
}

// AzureRootCertificates returns the certificates of AzureRoots, for display.
func AzureRootCertificates() []*x509.Certificate {
	entries, err := azureRootFiles.ReadDir("roots")
	if err != nil {
		panic(err) // embedded at build time
	}
	var out []*x509.Certificate
	for _, e := range entries {
		data, err := azureRootFiles.ReadFile(path.Join("roots", e.Name()))
		if err != nil {
			panic(err)
		}
		block, _ := pem.Decode(data)
		if block == nil {
			panic(fmt.Sprintf("attest: embedded root %s is not PEM", e.Name()))
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			panic(fmt.Sprintf("attest: embedded root %s: %v", e.Name(), err))
		}
		out = append(out, c)
	}
	return out
}
