package certkit

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// Material is a private key with its certificate chain: what a certificate
// version's secret holds (A.9).
type Material struct {
	Key crypto.Signer
	// Chain holds the certificates, leaf first, then its issuers, then any
	// certificates that are not on the path; when read with preserveOrder,
	// the order received instead. Leaf finds the leaf in either case.
	Chain []*x509.Certificate
}

// Leaf returns the first certificate of m.Chain whose public key is m.Key's,
// or, if there is none, m.Chain[0]; nil for an empty chain.
func (m Material) Leaf() *x509.Certificate {
	if len(m.Chain) == 0 {
		return nil
	}
	if m.Key != nil {
		if i := findLeaf(m.Key.Public(), m.Chain); i >= 0 {
			return m.Chain[i]
		}
	}
	return m.Chain[0]
}

// ParseImport reads the value of a certificate import (A.7).
//
// When contentType is application/x-pem-file (compared case-insensitively),
// value is PEM text holding one unencrypted private key (PKCS#8 "PRIVATE
// KEY", PKCS#1 "RSA PRIVATE KEY" or SEC1 "EC PRIVATE KEY") and CERTIFICATE
// blocks, in any order; blocks of other types (EC PARAMETERS, CERTIFICATE
// REQUEST, ...) are skipped and password is ignored. An encrypted key gives
// ErrEncryptedKey.
//
// When contentType is application/x-pkcs12 or empty, value is the standard
// base64 text (padding optional, whitespace and line breaks ignored) of a
// PFX, decoded with password. An empty password matches both encodings
// PKCS#12 writers use for it, and a PFX without MAC. Errors from go-pkcs12
// are wrapped with ErrBadPFX.
//
// The leaf is the certificate whose public key is the private key's;
// Material.Chain is ordered by OrderChain with preserveOrder. The key must
// be RSA or ECDSA on P-256, P-384 or P-521 (ErrUnsupportedKey). Limits:
// value at most MaxImportSize bytes, at most MaxCertificates certificates,
// one private key (ErrMultipleKeys). Other content types give a
// *PolicyError for secret_props.contentType.
func ParseImport(value []byte, password, contentType string, preserveOrder bool) (Material, error) {
	if len(value) > MaxImportSize {
		return Material{}, tooLarge("the certificate value", MaxImportSize, "bytes")
	}
	var key any
	var certs []*x509.Certificate
	var err error
	switch ct := strings.ToLower(strings.TrimSpace(contentType)); ct {
	case ContentTypePEM:
		key, certs, err = parsePEMImport(value)
	case ContentTypePKCS12, "":
		key, certs, err = parsePFXImport(value, password)
	default:
		return Material{}, policyErr("secret_props.contentType", "%q is not supported for import; use %q (value: base64 PFX) or %q (value: PEM text)", truncate(contentType), ContentTypePKCS12, ContentTypePEM)
	}
	if err != nil {
		return Material{}, err
	}
	if key == nil {
		return Material{}, ErrNoPrivateKey
	}
	signer, err := checkKey(key)
	if err != nil {
		return Material{}, err
	}
	if len(certs) == 0 {
		return Material{}, fmt.Errorf("%w: an import needs the certificate issued for the private key", ErrNoCertificate)
	}
	chain, err := OrderChain(signer.Public(), certs, preserveOrder)
	if err != nil {
		return Material{}, err
	}
	return Material{Key: signer, Chain: chain}, nil
}

// parsePEMImport reads the key and certificates of a PEM import.
func parsePEMImport(value []byte) (key any, certs []*x509.Certificate, err error) {
	rest := value
	blocks := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		blocks++
		if isPrivateKeyBlock(block.Type) {
			if key != nil {
				return nil, nil, ErrMultipleKeys
			}
			if key, err = parsePEMKey(block); err != nil {
				return nil, nil, err
			}
			continue
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if len(certs) == MaxCertificates {
			return nil, nil, tooLarge("the import", MaxCertificates, "certificates")
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: certificate %d: %w", ErrBadPEM, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if blocks == 0 {
		return nil, nil, fmt.Errorf("%w: no PEM block found; with contentType %s the value is the PEM text itself (-----BEGIN ...), not base64", ErrBadPEM, ContentTypePEM)
	}
	return key, certs, nil
}

// isPrivateKeyBlock reports whether a PEM type names a private key of any
// kind, including ones this package cannot read.
func isPrivateKeyBlock(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }

// parsePEMKey parses an unencrypted private key block.
func parsePEMKey(block *pem.Block) (key any, err error) {
	if block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, ErrEncryptedKey
	}
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w (PEM %q); use \"PRIVATE KEY\" (PKCS#8), \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\"", ErrUnsupportedKey, truncate(block.Type))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the %s block is malformed: %w", ErrBadPEM, block.Type, err)
	}
	return key, nil
}

// parsePFXImport decodes the base64 PFX of an import.
func parsePFXImport(value []byte, password string) (any, []*x509.Certificate, error) {
	der, err := decodeBase64(value)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the value is not standard base64 (%v); for PEM text, set contentType %s", ErrBadPFX, err, ContentTypePEM)
	}
	return decodePFX(der, password)
}

// decodePFX decodes a DER PFX with its key, certificates in bag order.
func decodePFX(der []byte, password string) (any, []*x509.Certificate, error) {
	if _, _, err := checkPFX(der); err != nil {
		return nil, nil, err
	}
	key, leaf, cas, err := pkcs12.DecodeChain(der, password)
	switch {
	case err == nil:
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return nil, nil, fmt.Errorf("%w: the password (pwd) is wrong: %w", ErrBadPFX, err)
	case err.Error() == "pkcs12: private key missing":
		return nil, nil, fmt.Errorf("%w: %w", ErrNoPrivateKey, err)
	case err.Error() == "pkcs12: certificate missing":
		return nil, nil, fmt.Errorf("%w: %w", ErrNoCertificate, err)
	case err.Error() == "pkcs12: expected exactly one key bag":
		return nil, nil, fmt.Errorf("%w: %w", ErrMultipleKeys, err)
	default:
		return nil, nil, fmt.Errorf("%w: %w", ErrBadPFX, err)
	}
	if 1+len(cas) > MaxCertificates {
		return nil, nil, tooLarge("the import", MaxCertificates, "certificates")
	}
	return key, append([]*x509.Certificate{leaf}, cas...), nil
}

// decodeBase64 decodes standard base64, with or without padding, ignoring
// ASCII whitespace.
func decodeBase64(b []byte) ([]byte, error) {
	clean := bytes.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\f' || r == '\v' {
			return -1
		}
		return r
	}, b)
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(string(clean), "="))
}

// EncodePFX returns the PKCS#12 of m with an empty password, as the secret
// behind a certificate holds it (before base64): the private key, the leaf
// and the other certificates of m.Chain as CA certificates in their order.
// The leaf's bag always comes first. legacy selects go-pkcs12's LegacyDES
// (3DES and SHA-1 PBE, HMAC-SHA-1 MAC: tegata's default, A.9 and Q6), which
// Windows and old .NET read; otherwise Modern2023 (PBES2 AES-256-CBC,
// HMAC-SHA-256), which needs OpenSSL 1.1.1, Java 12 or Windows Server 2019.
func EncodePFX(m Material, legacy bool) ([]byte, error) {
	leaf, cas, err := splitLeaf(m)
	if err != nil {
		return nil, err
	}
	enc := pkcs12.Modern2023
	if legacy {
		enc = pkcs12.LegacyDES
	}
	der, err := enc.Encode(m.Key, leaf, cas, "")
	if err != nil {
		return nil, fmt.Errorf("encoding the PFX: %w", err)
	}
	return der, nil
}

// EncodePEM returns the PEM form of the secret behind a certificate (A.9,
// Q25): the private key as an unencrypted PKCS#8 "PRIVATE KEY" block, then
// one CERTIFICATE block per certificate of m.Chain in its order (leaf first
// unless the chain was read with preserveOrder). It returns nil when m has
// no key or no certificate or the key cannot be marshalled.
func EncodePEM(m Material) []byte {
	if m.Key == nil || len(m.Chain) == 0 {
		return nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(m.Key)
	if err != nil {
		return nil
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, c := range m.Chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// PFXToPEM converts the PFX behind a certificate (empty password) to the
// PEM form of EncodePEM, keeping the certificates in the PFX's order, for
// GET /secrets/{name}?outContentType=application/x-pem-file. pfx may be the
// DER or its standard base64 text (as the secret's value holds it).
func PFXToPEM(pfx []byte) ([]byte, error) {
	der := pfx
	if len(pfx) > 0 && pfx[0] != 0x30 { // DER starts with SEQUENCE; its base64 with 'M'
		var err error
		if der, err = decodeBase64(pfx); err != nil {
			return nil, fmt.Errorf("%w: neither DER nor standard base64 (%v)", ErrBadPFX, err)
		}
	}
	if len(der) > MaxImportSize {
		return nil, tooLarge("the PFX", MaxImportSize, "bytes")
	}
	key, certs, err := decodePFX(der, "")
	if err != nil {
		return nil, err
	}
	signer, err := checkKey(key)
	if err != nil {
		return nil, err
	}
	chain, err := OrderChain(signer.Public(), certs, true)
	if err != nil {
		return nil, err
	}
	out := EncodePEM(Material{Key: signer, Chain: chain})
	if out == nil {
		return nil, fmt.Errorf("%w: the private key cannot be written as PKCS#8", ErrUnsupportedKey)
	}
	return out, nil
}

// X5T returns the x5t of a certificate: the SHA-1 of its DER, base64url
// without padding (A.5).
func X5T(der []byte) string {
	sum := sha1.Sum(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// splitLeaf returns m's leaf and the other certificates in their order.
func splitLeaf(m Material) (*x509.Certificate, []*x509.Certificate, error) {
	if m.Key == nil {
		return nil, nil, ErrNoPrivateKey
	}
	if _, err := checkKey(m.Key); err != nil {
		return nil, nil, err
	}
	i := findLeaf(m.Key.Public(), m.Chain)
	if i < 0 {
		if len(m.Chain) == 0 {
			return nil, nil, ErrNoCertificate
		}
		return nil, nil, ErrKeyMismatch
	}
	cas := append(append([]*x509.Certificate(nil), m.Chain[:i]...), m.Chain[i+1:]...)
	return m.Chain[i], cas, nil
}
