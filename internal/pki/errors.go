package pki

import "errors"

// Sentinel errors, always wrapped with the file or field concerned and what
// to do; branch on them with errors.Is.
var (
	// ErrWrongMasterKey reports a key file or state that was written under a
	// different master key (its key id differs, or decryption fails
	// authentication).
	ErrWrongMasterKey = errors.New("pki: wrong master key")

	// ErrInsecureKeyFile reports a master key file readable or writable by
	// group or others.
	ErrInsecureKeyFile = errors.New("pki: master key file permissions too open")

	// ErrBadMasterKey reports master key material that is not 32 bytes, raw
	// or base64.
	ErrBadMasterKey = errors.New("pki: invalid master key")

	// ErrInvalidPlan reports a Plan that cannot be followed.
	ErrInvalidPlan = errors.New("pki: invalid plan")

	// ErrCorruptStore reports files in the PKI directory that are unreadable
	// or inconsistent (a certificate without its key, a key that does not
	// match its certificate).
	ErrCorruptStore = errors.New("pki: corrupt store")

	// ErrNoActiveCA reports a time at which the plan has no Sub CA to sign
	// with.
	ErrNoActiveCA = errors.New("pki: no active Sub CA")
)
