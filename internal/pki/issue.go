package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"
)

// leafBackdate moves a leaf's NotBefore into the past so verifiers whose
// clocks run a little slow still accept it.
const leafBackdate = 5 * time.Minute

// randomSerial returns a positive 127-bit serial: unpredictable, as the
// CA/B Forum asks, and within RFC 5280's 20 octets.
func randomSerial() (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	b[0] &= 0x7f
	b[0] |= 0x01 // never zero
	return new(big.Int).SetBytes(b), nil
}

// keyID is RFC 7093 method 1: the leftmost 160 bits of SHA-256 of the
// subjectPublicKey bits. Go fills it in for CAs only; leaves need it too
// (kops matches SKI against AKI when walking AIA).
func keyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

func (p Plan) aiaURL(name string) string { return p.AIABaseURL + "/" + name + ".crt" }

func (p Plan) subject(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{p.Organization}}
}

// create signs tmpl with parent's key and returns the parsed certificate.
func create(tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) (*x509.Certificate, error) {
	var err error
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		return nil, err
	}
	if len(tmpl.SubjectKeyId) == 0 {
		if tmpl.SubjectKeyId, err = keyID(pub); err != nil {
			return nil, err
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, fmt.Errorf("pki: issuing %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// rootTemplate follows §6.1: CA, keyCertSign and cRLSign, no EKU, no path
// length limit (a cross-certificate may sit below it).
func (p Plan) rootTemplate(s rootSpec) *x509.Certificate {
	return &x509.Certificate{
		Subject: p.subject(s.cn), NotBefore: s.notBefore, NotAfter: s.notAfter,
		BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
}

// crossTemplate is the new root's subject and key under the old root
// (§6.1): no EKU, so it never narrows what the leaves need; path length 1
// leaves room for exactly the Sub CA below it.
func (p Plan) crossTemplate(roots []rootSpec, i int, newRoot *x509.Certificate) *x509.Certificate {
	return &x509.Certificate{
		Subject: newRoot.Subject, SubjectKeyId: newRoot.SubjectKeyId,
		NotBefore: roots[i].notBefore, NotAfter: xsignNotAfter(roots, i),
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: 1,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		IssuingCertificateURL: []string{p.aiaURL(roots[i-1].name)},
	}
}

// subCATemplate follows §6.1: pathlen 0, digitalSignature besides the CA
// usages, the leaves' EKUs only, and a name constraint to the base domain so
// a stolen Sub CA key cannot mint names outside it. issuerName is the
// certificate its AIA points to: the cross-certificate when there is one,
// which verifiers anchored on either root can use (as Microsoft's G2 Sub
// CAs do).
func (p Plan) subCATemplate(s caSpec, issuerName string) *x509.Certificate {
	return &x509.Certificate{
		Subject: p.subject(s.cn), NotBefore: s.introduce, NotAfter: s.notAfter,
		BasicConstraintsValid: true, IsCA: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:                 []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         []string{p.BaseDomain()},
		IssuingCertificateURL:       []string{p.aiaURL(issuerName)},
	}
}

// leafTemplate follows §6.4 and §2.8: CN the base domain, SANs the base
// domain and <region>.<base>, digitalSignature, serverAuth and clientAuth
// like Azure's IMDS leaves, CA:FALSE, and AIA to the issuing Sub CA. Its
// validity never extends past the Sub CA's.
func (p Plan) leafTemplate(subName string, sub *x509.Certificate, now time.Time) *x509.Certificate {
	base := p.BaseDomain()
	nb := now.Add(-leafBackdate)
	if nb.Before(sub.NotBefore) {
		nb = sub.NotBefore
	}
	na := now.Add(p.LeafValidity)
	if na.After(sub.NotAfter) {
		na = sub.NotAfter
	}
	return &x509.Certificate{
		Subject: p.subject(base), NotBefore: nb.UTC(), NotAfter: na.UTC(),
		DNSNames:              []string{base, p.Region + "." + base},
		BasicConstraintsValid: true, IsCA: false,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IssuingCertificateURL: []string{p.aiaURL(subName)},
	}
}
