package agent

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/tegata-project/tegata/internal/certkit"
)

// layoutPEM is the content of a version file in the extension's Linux
// layout (C.6): the leaf, then its issuers (the root too, when the secret
// holds it), then any other certificates of the secret, then the private
// key, last. withChain false (the Linux v1 form) writes the leaf and the key
// only.
func layoutPEM(c *Candidate, withChain bool) ([]byte, error) {
	key, err := keyPEM(c)
	if err != nil {
		return nil, err
	}
	certs := []*x509.Certificate{c.Leaf}
	if withChain {
		certs = append(append(certs, c.Path[1:]...), c.Others...)
	}
	return append(certsPEM(certs), key...), nil
}

// intermediates returns the issuers of c's leaf without a self-signed root.
func (c *Candidate) intermediates() []*x509.Certificate {
	var out []*x509.Certificate
	for _, ic := range c.Path[1:] {
		if !bytes.Equal(ic.RawIssuer, ic.RawSubject) {
			out = append(out, ic)
		}
	}
	return out
}

// renderFormat returns the content of one extra format (tegata.formats):
// cert.pem (the leaf), key.pem (the PKCS#8 private key), fullchain.pem (the
// leaf and its intermediates, without a self-signed root, as servers send
// it), chain.pem (the intermediates alone; empty when there are none) and
// cert.pfx (PKCS#12, empty password, AES-256 and SHA-256 as OpenSSL 3 and
// Java read it, with the leaf and every other certificate of the secret).
func renderFormat(c *Candidate, format string) ([]byte, error) {
	switch format {
	case "cert.pem":
		return certsPEM([]*x509.Certificate{c.Leaf}), nil
	case "key.pem":
		return keyPEM(c)
	case "fullchain.pem":
		return certsPEM(append([]*x509.Certificate{c.Leaf}, c.intermediates()...)), nil
	case "chain.pem":
		return certsPEM(c.intermediates()), nil
	case "cert.pfx":
		chain := append(append([]*x509.Certificate{c.Leaf}, c.Path[1:]...), c.Others...)
		return certkit.EncodePFX(certkit.Material{Key: c.Material.Key, Chain: chain}, false)
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

func certsPEM(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func keyPEM(c *Candidate) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.Material.Key)
	if err != nil {
		return nil, fmt.Errorf("writing the private key as PKCS#8: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
