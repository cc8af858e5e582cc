package certkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"strings"
)

// CreateCSR returns the DER of a PKCS#10 certificate request signed by key
// (A.10): the subject from x.Subject (see ParseSubject), and as requested
// extensions (the extensionRequest attribute) the SANs from x.SANs, UPNs
// included as otherName 1.3.6.1.4.1.311.20.2.3, the key usage (critical)
// from x.KeyUsage and the EKUs from x.EKUs. Empty lists add no extension; the
// SAN extension is critical when the subject is empty. basic_constraints and
// validity_months belong to the issuer and are not requested. The signature
// is SHA-256 with RSA PKCS#1 v1.5 or ECDSA, whatever the key size.
//
// x is normally a validated policy's x509_props; a value Validate would
// refuse gives a *PolicyError.
func CreateCSR(key crypto.Signer, x X509Props) ([]byte, error) {
	alg, err := signatureAlgorithm(key)
	if err != nil {
		return nil, err
	}
	subject, err := subjectDER(x.Subject)
	if err != nil {
		return nil, &PolicyError{Field: "x509_props.subject", Reason: err.Error(), Err: ErrBadSubject}
	}
	exts, err := requestedExtensions(x, strings.TrimSpace(x.Subject) == "")
	if err != nil {
		return nil, err
	}
	tmpl := &x509.CertificateRequest{
		RawSubject:         subject,
		SignatureAlgorithm: alg,
		ExtraExtensions:    exts,
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("creating the CSR: %w", err)
	}
	return der, nil
}

// signatureAlgorithm returns the SHA-256 signature algorithm for key.
func signatureAlgorithm(key crypto.Signer) (x509.SignatureAlgorithm, error) {
	if key == nil {
		return 0, fmt.Errorf("%w (no key)", ErrUnsupportedKey)
	}
	switch key.Public().(type) {
	case *rsa.PublicKey:
		return x509.SHA256WithRSA, nil
	case *ecdsa.PublicKey:
		return x509.ECDSAWithSHA256, nil
	}
	return 0, fmt.Errorf("%w (the key is %T)", ErrUnsupportedKey, key)
}
