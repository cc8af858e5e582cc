package certkit

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Backdate is how far before now SelfSign starts a certificate's validity,
// so that a peer whose clock runs a little behind accepts it at once (the
// same 5 minutes of skew the vault allows on tokens, A.4).
const Backdate = 5 * time.Minute

// SelfSign returns a certificate for key signed by key itself (issuer Self,
// A.10): subject, SANs, key usage and EKUs as CreateCSR puts them in a CSR;
// basic constraints from x.BasicConstraints (absent means CA false), always
// present; valid from now minus Backdate until now plus x.ValidityMonths
// calendar months (12 when 0); a random positive 128-bit serial number; and
// a SHA-256 signature. A CA certificate also gets a subject key identifier.
func SelfSign(key crypto.Signer, x X509Props, now time.Time) (*x509.Certificate, error) {
	alg, err := signatureAlgorithm(key)
	if err != nil {
		return nil, err
	}
	months := x.ValidityMonths
	if months == 0 {
		months = 12
	}
	if months < 1 || months > 1200 {
		return nil, policyErr("x509_props.validity_months", "%d is outside 1–1200", months)
	}
	subject, err := subjectDER(x.Subject)
	if err != nil {
		return nil, &PolicyError{Field: "x509_props.subject", Reason: err.Error(), Err: ErrBadSubject}
	}
	exts, err := requestedExtensions(x, strings.TrimSpace(x.Subject) == "")
	if err != nil {
		return nil, err
	}
	serial := new(big.Int)
	for serial.Sign() == 0 {
		if serial, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128)); err != nil {
			return nil, fmt.Errorf("generating a serial number: %w", err)
		}
	}
	isCA := x.BasicConstraints != nil && x.BasicConstraints.CA
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		RawSubject:            subject,
		NotBefore:             now.Add(-Backdate).UTC(),
		NotAfter:              now.AddDate(0, months, 0).UTC(),
		SignatureAlgorithm:    alg,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		ExtraExtensions:       exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-signing the certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}
