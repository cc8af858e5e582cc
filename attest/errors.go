package attest

import (
	"errors"
	"strings"
)

// Sentinel errors returned by Verify and the parsers, always wrapped in a
// *VerifyError. Callers branch with errors.Is, for example
// errors.Is(err, attest.ErrUntrustedChain).
var (
	// ErrMalformed reports input that is not an attested document: bad JSON
	// or base64, an encoding other than pkcs7, a PKCS#7 parse failure, a size
	// limit, or a signer count other than one.
	ErrMalformed = errors.New("attest: malformed document")

	// ErrBadSignature reports a signature that does not verify or uses an
	// algorithm or key that is not allowed (SHA-1, MD5, RSA below 2048 bits).
	ErrBadSignature = errors.New("attest: bad signature")

	// ErrUntrustedChain reports a signer certificate that does not chain to
	// the configured roots with the available intermediates, or whose profile
	// (CA flag, key usage, extended key usage) does not fit a signer.
	ErrUntrustedChain = errors.New("attest: untrusted certificate chain")

	// ErrNameMismatch reports a signer certificate with no DNS SAN inside
	// the allowed base domains.
	ErrNameMismatch = errors.New("attest: signer name not allowed")

	// ErrNonceMismatch reports a document whose nonce differs from the one
	// the verifier expected.
	ErrNonceMismatch = errors.New("attest: nonce mismatch")

	// ErrExpired reports a document outside its timeStamp window (or older
	// than VerifyOptions.MaxAge) at the verification time.
	ErrExpired = errors.New("attest: document expired or not yet valid")

	// ErrMissingClaim reports a document that lacks a required field such as
	// vmId or subscriptionId, or whose field has the wrong form.
	ErrMissingClaim = errors.New("attest: required claim missing or invalid")

	// ErrPolicy reports invalid verifier configuration, such as a nil root
	// pool or an empty list of allowed names.
	ErrPolicy = errors.New("attest: invalid verification policy")
)

// A VerifyError describes why a document was rejected. Err is one of the
// sentinel errors above; Cause, when set, is the underlying library error.
type VerifyError struct {
	// Step names the verification step that failed, such as "parse",
	// "signature", "name", "claims" or "chain".
	Step string
	// Err is the sentinel error that classifies the failure.
	Err error
	// Detail says what was wrong and what to do about it.
	Detail string
	// Cause is the underlying error, if any.
	Cause error
}

// Error returns "attest: <step>: <detail>: <cause>".
func (e *VerifyError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	if e.Step != "" {
		b.WriteString(" (step " + e.Step + ")")
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	if e.Cause != nil {
		b.WriteString(": " + e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns both the sentinel and the cause, so errors.Is matches the
// sentinel and errors.As can reach, for example, an x509.UnknownAuthorityError.
func (e *VerifyError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

func newErr(sentinel error, step, detail string, cause error) *VerifyError {
	return &VerifyError{Step: step, Err: sentinel, Detail: detail, Cause: cause}
}
