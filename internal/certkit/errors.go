package certkit

import (
	"errors"
	"fmt"
)

// Limits on outside input. They bound memory and CPU for every parser in this
// package; the vault's own limits (A.13) are checked by its handlers.
const (
	// MaxImportSize bounds the value of an import and the sum of the x5c
	// entries of a merge, in bytes.
	MaxImportSize = 200 << 10
	// MaxCertificates bounds the certificates in an import or a merge chain.
	MaxCertificates = 20
	// MaxSubjectLength bounds x509_props.subject, in bytes.
	MaxSubjectLength = 1024
	// maxSANs bounds the entries of x509_props.sans, all kinds together.
	maxSANs = 256
	// maxIterations bounds every PKCS#12 key-derivation iteration count that
	// can be read before decrypting (MAC, encrypted safes, shrouded key bags
	// in plain safes), so that a hostile PFX cannot pin a CPU. Writers use
	// 2,000 (Windows, .NET), 2,048 (OpenSSL, go-pkcs12) and 10,000 to 20,000
	// (Java, pyca/cryptography); at the limit a PFX costs about 0.1 s of CPU.
	maxIterations = 100_000
)

// Sentinel errors. Functions wrap them with detail; test with errors.Is.
var (
	// ErrUnsupportedIssuer reports an issuer name other than Self and
	// Unknown. Policy.Validate checks the issuer last, so a caller that has
	// a provider for the named issuer may treat this error as success.
	ErrUnsupportedIssuer = errors.New("issuer not supported: use \"Self\" (self-signed) or \"Unknown\" (CSR, then merge)")
	// ErrKeyMismatch reports that no certificate carries the public key of
	// the private key (import) or of the pending key (merge).
	ErrKeyMismatch = errors.New("no certificate matches the private key: include the certificate issued for this key")
	// ErrNoPrivateKey reports an import without a private key.
	ErrNoPrivateKey = errors.New("no private key found: an import needs the private key with its certificate")
	// ErrNoCertificate reports input without any certificate.
	ErrNoCertificate = errors.New("no certificate found")
	// ErrMultipleKeys reports an import with more than one private key.
	ErrMultipleKeys = errors.New("more than one private key found: import one key with its certificate chain")
	// ErrEncryptedKey reports an encrypted PEM private key.
	ErrEncryptedKey = errors.New("the PEM private key is encrypted: send it unencrypted (PKCS#8 \"PRIVATE KEY\"), or import a PFX with pwd")
	// ErrUnsupportedKey reports a private or public key that is neither RSA
	// nor ECDSA on P-256, P-384 or P-521.
	ErrUnsupportedKey = errors.New("unsupported key type: use RSA or EC (P-256, P-384, P-521)")
	// ErrUnexpectedKey reports a private key where only certificates are
	// accepted (a merge chain).
	ErrUnexpectedKey = errors.New("a merge takes certificates only, but a private key was found: send the chain without the key, or use import")
	// ErrBadPFX reports a PFX (PKCS#12) that could not be read. The
	// library's error is wrapped too.
	ErrBadPFX = errors.New("the PFX (PKCS#12) could not be read")
	// ErrBadPEM reports PEM text that could not be read.
	ErrBadPEM = errors.New("the PEM text could not be read")
	// ErrBadChain reports a merge x5c entry in none of the accepted shapes.
	ErrBadChain = errors.New("the certificate chain could not be read: send x5c as DER certificates, or one entry holding a PEM bundle, a PKCS#7 (certs-only) or a PFX without key")
	// ErrBadSubject reports an x509_props.subject that could not be parsed.
	ErrBadSubject = errors.New("the subject could not be parsed: write it as comma-separated TYPE=value pairs, e.g. \"CN=www.example.com, O=Example, C=JP\"")
	// ErrTooLarge reports input over one of the limits above.
	ErrTooLarge = errors.New("input too large")
)

// A PolicyError reports a certificate policy field that is missing or holds a
// value tegata does not accept. Field is the JSON path of the field (for
// example "key_props.key_size" or "lifetime_actions[0].trigger") and Reason
// says what is allowed.
type PolicyError struct {
	Field  string
	Reason string
	// Err is a sentinel the caller may branch on (ErrUnsupportedIssuer,
	// ErrBadSubject, ErrUnsupportedKey), or nil.
	Err error
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("certificate policy: %s: %s", e.Field, e.Reason)
}

// Unwrap returns e.Err.
func (e *PolicyError) Unwrap() error { return e.Err }

// policyErr returns a *PolicyError with a formatted reason.
func policyErr(field, format string, args ...any) *PolicyError {
	return &PolicyError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// tooLarge wraps ErrTooLarge with what was over which limit.
func tooLarge(what string, limit int, unit string) error {
	return fmt.Errorf("%w: %s exceeds %d %s", ErrTooLarge, what, limit, unit)
}
