package certkit

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"

	"github.com/smallstep/pkcs7"
)

// OrderChain returns certs with the leaf, the certificate whose public key
// equals key, placed as A.9 says.
//
// With preserveOrder false (Key Vault's default) the result is the leaf,
// then its issuer, then that certificate's issuer, and so on, each found
// among the remaining certificates by subject equal to the issuer name and a
// valid signature (SHA-1 signatures count; validity dates, key usage and CA
// flags do not: this orders, it does not validate); the walk stops at a
// self-issued certificate or when no issuer is found, and the certificates
// that did not fit the path follow in the order received. When several
// certificates match key, the first received is the leaf.
//
// With preserveOrder true certs is returned in the order received; the leaf
// must still be present.
//
// A key that no certificate carries gives an error wrapping ErrKeyMismatch,
// and no certificates an error wrapping ErrNoCertificate.
func OrderChain(key crypto.PublicKey, certs []*x509.Certificate, preserveOrder bool) ([]*x509.Certificate, error) {
	if len(certs) == 0 {
		return nil, ErrNoCertificate
	}
	leaf := findLeaf(key, certs)
	if leaf < 0 {
		return nil, ErrKeyMismatch
	}
	if preserveOrder {
		return append([]*x509.Certificate(nil), certs...), nil
	}
	path, others := IssuerPath(certs[leaf], certs)
	return append(path, others...), nil
}

// IssuerPath returns leaf followed by its issuers found in certs, each linked
// to the previous one by name and a valid signature (SHA-1 signatures count;
// this orders, it does not validate), stopping at a self-issued certificate or
// when no issuer is found; and the certificates of certs that are not on the
// path, in the order received. leaf itself may be one of certs.
func IssuerPath(leaf *x509.Certificate, certs []*x509.Certificate) (path, others []*x509.Certificate) {
	used := make([]bool, len(certs))
	for i, c := range certs {
		if c == leaf {
			used[i] = true
		}
	}
	path = []*x509.Certificate{leaf}
	for cur := leaf; !bytes.Equal(cur.RawIssuer, cur.RawSubject); {
		next := -1
		for i, c := range certs {
			if !used[i] && bytes.Equal(c.RawSubject, cur.RawIssuer) &&
				c.CheckSignature(cur.SignatureAlgorithm, cur.RawTBSCertificate, cur.Signature) == nil {
				next = i
				break
			}
		}
		if next < 0 {
			break
		}
		used[next] = true
		cur = certs[next]
		path = append(path, cur)
	}
	for i, c := range certs {
		if !used[i] {
			others = append(others, c)
		}
	}
	return path, others
}

// findLeaf returns the index of the first certificate whose public key
// equals key, or -1.
func findLeaf(key crypto.PublicKey, certs []*x509.Certificate) int {
	k, ok := key.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return -1
	}
	for i, c := range certs {
		if k.Equal(c.PublicKey) {
			return i
		}
	}
	return -1
}

// ParseMergeChain reads the x5c of a merge request (A.10): each entry is
// the bytes of one base64 string of the request. An entry is a DER
// certificate, or one of the shapes acmebot and other clients send the
// whole chain in: a PEM bundle of CERTIFICATE and PKCS7 blocks, a PKCS#7
// certs-only SignedData (DER or BER), or a PKCS#12 without private key and
// with an empty password. Any entry may take any shape; the certificates
// come back in the order received, to be placed by OrderChain with the
// pending key.
//
// At most MaxImportSize bytes in all and MaxCertificates certificates
// (ErrTooLarge). A private key anywhere gives ErrUnexpectedKey, an entry in
// no accepted shape an error wrapping ErrBadChain.
func ParseMergeChain(x5c [][]byte) ([]*x509.Certificate, error) {
	total := 0
	for _, e := range x5c {
		total += len(e)
	}
	if total > MaxImportSize {
		return nil, tooLarge("the x5c entries", MaxImportSize, "bytes")
	}
	if len(x5c) > MaxCertificates {
		return nil, tooLarge("the chain", MaxCertificates, "certificates")
	}
	var certs []*x509.Certificate
	for i, e := range x5c {
		got, err := parseCertBlob(e)
		if err != nil {
			return nil, fmt.Errorf("x5c[%d]: %w", i, err)
		}
		if len(certs)+len(got) > MaxCertificates {
			return nil, tooLarge("the chain", MaxCertificates, "certificates")
		}
		certs = append(certs, got...)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w in x5c: send the certificate issued for the pending CSR", ErrNoCertificate)
	}
	return certs, nil
}

// parseCertBlob reads one x5c entry in any accepted shape.
func parseCertBlob(b []byte) ([]*x509.Certificate, error) {
	if len(b) > 0 && b[0] != 0x30 && bytes.Contains(b, []byte("-----BEGIN ")) {
		return parsePEMCerts(b) // PEM text, possibly after comment lines
	}
	// Tell the DER shapes apart by the first element inside the outer
	// SEQUENCE: a certificate starts with a SEQUENCE (TBSCertificate), a
	// PKCS#7 ContentInfo with an OID, a PFX with the INTEGER 3.
	var outer asn1.RawValue
	if _, err := asn1.Unmarshal(b, &outer); err != nil || outer.Tag != asn1.TagSequence || len(outer.Bytes) == 0 {
		if isBERSequence(b) { // indefinite length: only PKCS#7 allows BER here
			return parsePKCS7Certs(b)
		}
		return nil, ErrBadChain
	}
	switch outer.Bytes[0] {
	case 0x30:
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadChain, err)
		}
		return []*x509.Certificate{c}, nil
	case 0x06:
		return parsePKCS7Certs(b)
	case 0x02:
		return pfxCertificates(b)
	}
	return nil, ErrBadChain
}

// isBERSequence reports whether b starts with a SEQUENCE of indefinite length.
func isBERSequence(b []byte) bool { return len(b) > 2 && b[0] == 0x30 && b[1] == 0x80 }

// parsePEMCerts reads CERTIFICATE and PKCS7 blocks; private keys are refused
// and other block types skipped.
func parsePEMCerts(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		var got []*x509.Certificate
		switch {
		case block.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: PEM certificate %d: %w", ErrBadChain, len(certs)+1, err)
			}
			got = []*x509.Certificate{c}
		case block.Type == "PKCS7":
			var err error
			if got, err = parsePKCS7Certs(block.Bytes); err != nil {
				return nil, err
			}
		case isPrivateKeyBlock(block.Type):
			return nil, ErrUnexpectedKey
		}
		if len(certs)+len(got) > MaxCertificates {
			return nil, tooLarge("the chain", MaxCertificates, "certificates")
		}
		certs = append(certs, got...)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no CERTIFICATE or PKCS7 block in the PEM text", ErrBadChain)
	}
	return certs, nil
}

// parsePKCS7Certs returns the certificates of a PKCS#7 SignedData.
func parsePKCS7Certs(b []byte) ([]*x509.Certificate, error) {
	p7, err := pkcs7.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: PKCS#7: %w", ErrBadChain, err)
	}
	if len(p7.Certificates) == 0 {
		return nil, fmt.Errorf("%w: the PKCS#7 holds no certificates", ErrBadChain)
	}
	if len(p7.Certificates) > MaxCertificates {
		return nil, tooLarge("the chain", MaxCertificates, "certificates")
	}
	return p7.Certificates, nil
}
