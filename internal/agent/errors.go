package agent

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of the settings parser and the planner. A *SettingsError
// wraps one of them when the caller may want to branch; test with errors.Is.
var (
	// ErrCertificatesURL reports an observed URL under /certificates/ (or
	// /keys/): those objects hold no private key; the secret of the same
	// name does (C.2, A.9).
	ErrCertificatesURL = errors.New("the URL names a certificate, not its secret: use https://<vault>/secrets/<name>, the secret with the same name, which holds the private key")
	// ErrEscapedQuotes reports settings whose quotes are backslash-escaped,
	// the usual PowerShell quoting mistake (C.2, C.8).
	ErrEscapedQuotes = errors.New(`the settings hold backslash-escaped quotes (\"), a PowerShell quoting mistake; Azure reports it as "Failed to parse the configuration settings with:not an object": write plain quotes in the file and pass it as --settings "@settings.json"`)
	// ErrWrongPlatform reports a setting that belongs to another platform,
	// such as a Windows certificate store location on Linux.
	ErrWrongPlatform = errors.New("the setting is for another platform")
	// ErrUnsupportedPlatform reports a Plan the agent cannot install on
	// this operating system (the Windows certificate store installer is
	// planned, Q24).
	ErrUnsupportedPlatform = errors.New("installing on this platform is not supported yet")
)

// A SettingsError reports one field of a settings file that cannot be used.
// Path is the JSON path of the field (for example
// "secretsManagementSettings.observedCertificates[1].url"), Line and Column
// its position in the file (1-based; 0 when unknown) and Reason what is
// wrong and what to do.
type SettingsError struct {
	File         string
	Line, Column int
	Path         string
	Reason       string
	// Err is a sentinel the caller may branch on (ErrCertificatesURL,
	// ErrEscapedQuotes, ErrWrongPlatform), or nil.
	Err error
}

func (e *SettingsError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Column)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap returns e.Err.
func (e *SettingsError) Unwrap() error { return e.Err }

// SettingsErrors is every problem found in one settings file, in file order.
// errors.As finds the first *SettingsError; errors.Is looks through all.
type SettingsErrors []*SettingsError

func (es SettingsErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors of es.
func (es SettingsErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// A Warning is a settings field the agent accepted but ignores or changed,
// such as an unknown key or a polling interval raised to its minimum.
type Warning struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

func (w Warning) String() string {
	return (&SettingsError{File: w.File, Line: w.Line, Column: w.Column, Path: w.Path, Reason: w.Message}).Error()
}

// ErrorKind classifies what went wrong while polling a certificate; the
// agent's state, backoff and metrics follow it.
type ErrorKind string

// The kinds of polling errors.
const (
	// KindNetwork: the metadata service or the vault could not be reached,
	// or answered 5xx or 429. Transient: the agent backs off and retries.
	KindNetwork ErrorKind = "network"
	// KindToken: the metadata service refused a token (wrong msiClientId,
	// no identity), or the vault refused the token twice.
	KindToken ErrorKind = "token"
	// KindForbidden: the vault refused access (403 ForbiddenByRbac: the
	// identity lacks a role) or the request (another 4xx).
	KindForbidden ErrorKind = "forbidden"
	// KindUnavailable: the secret version is disabled (403 SecretDisabled)
	// or does not exist (404). The installed files stay; the state is warning.
	KindUnavailable ErrorKind = "unavailable"
	// KindRefused: the version was read but failed a check before
	// installing (Candidate.Check); the installed version stays.
	KindRefused ErrorKind = "refused"
	// KindInstall: writing the files failed (read-only directory, missing
	// ACL principal, disk full).
	KindInstall ErrorKind = "install"
	// KindHook: a reload hook failed after an install; it is retried.
	KindHook ErrorKind = "hook"
)

// Transient reports whether errors of kind k are expected to clear by
// themselves, so that the agent retries with backoff.
func (k ErrorKind) Transient() bool { return k == KindNetwork }

// A PollError is the failure of one step for one certificate.
type PollError struct {
	Kind ErrorKind
	// URL is the observed certificate's URL.
	URL string
	Err error
}

func (e *PollError) Error() string { return fmt.Sprintf("%s: %v", e.URL, e.Err) }

// Unwrap returns e.Err.
func (e *PollError) Unwrap() error { return e.Err }

// A VaultError is a non-success answer of the vault to a secret read.
type VaultError struct {
	URL    string
	Status int
	// Code and InnerCode are error.code and error.innererror.code of the
	// Key Vault error envelope (A.5), when present.
	Code, InnerCode string
	Message         string
	// RetryAfterS is the Retry-After of a 429 or 503, in seconds (0 if none).
	RetryAfterS int
	// Hint says what to do, when the agent knows.
	Hint string
}

func (e *VaultError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the vault answered %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.InnerCode != "" {
		b.WriteString("/" + e.InnerCode)
	}
	fmt.Fprintf(&b, " for %s", e.URL)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	return b.String()
}

// Kind classifies e for the poller.
func (e *VaultError) Kind() ErrorKind {
	switch {
	case e.Status == 401:
		return KindToken
	case e.Status == 403 && e.InnerCode == "SecretDisabled", e.Status == 404:
		return KindUnavailable
	case e.Status == 403:
		return KindForbidden
	case e.Status == 429 || e.Status >= 500:
		return KindNetwork
	}
	return KindForbidden
}

// A TokenError is a failure to get a managed-identity token.
type TokenError struct {
	Endpoint string
	// Status is the metadata service's HTTP status; 0 when it could not be
	// reached.
	Status int
	// Code and Description are the OAuth error fields of the answer.
	Code, Description string
	Hint              string
	Err               error
}

func (e *TokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "getting a managed-identity token from %s: ", e.Endpoint)
	switch {
	case e.Status == 0 && e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		fmt.Fprintf(&b, "answered %d", e.Status)
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
		if e.Description != "" {
			b.WriteString(": " + e.Description)
		} else if e.Err != nil {
			b.WriteString(": " + e.Err.Error())
		}
	}
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	return b.String()
}

// Unwrap returns e.Err.
func (e *TokenError) Unwrap() error { return e.Err }

// Kind classifies e for the poller: unreachable or 5xx is transient, any
// other refusal is KindToken.
func (e *TokenError) Kind() ErrorKind {
	if e.Status == 0 || e.Status == 429 || e.Status >= 500 {
		return KindNetwork
	}
	return KindToken
}

// Reasons a certificate version is refused before installing. A
// *RefusedError wraps one of them; test with errors.Is.
var (
	// ErrNotCertificate: the secret is not a certificate's secret (its
	// contentType is neither PKCS#12 nor PEM, or it holds no private key).
	ErrNotCertificate = errors.New("the secret is not a certificate with its private key")
	// ErrKeyMismatch: no certificate of the secret carries the private key's
	// public key.
	ErrKeyMismatch = errors.New("the private key does not match the certificate")
	// ErrChain: the certificates do not form a chain from the leaf through
	// the intermediates given (or to a trusted root, when one is required).
	ErrChain = errors.New("the certificate chain does not build")
	// ErrNotYetValid: the leaf's NotBefore is more than 5 minutes ahead.
	ErrNotYetValid = errors.New("the certificate is not valid yet")
	// ErrExpired: the leaf's NotAfter has passed.
	ErrExpired = errors.New("the certificate has expired")
	// ErrNotNewer: the version is not newer than the installed one (its
	// NotBefore is not later and its NotAfter is not later).
	ErrNotNewer = errors.New("the version is not newer than the installed one")
)

// A RefusedError reports a certificate version that failed a check before
// installing; the installed version stays.
type RefusedError struct {
	Version string
	Reason  error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("version %s refused, the installed version stays: %v", e.Version, e.Reason)
}

// Unwrap returns e.Reason.
func (e *RefusedError) Unwrap() error { return e.Reason }

// ErrInitialSync is returned by Agent.Run when requireInitialSync is set and
// the initial sync did not complete within InitialSyncAttempts attempts.
var ErrInitialSync = errors.New("the initial sync did not complete")

// kindOf classifies any error of a poll.
func kindOf(err error) ErrorKind {
	var pe *PollError
	var ve *VaultError
	var te *TokenError
	var re *RefusedError
	switch {
	case errors.As(err, &pe):
		return pe.Kind
	case errors.As(err, &ve):
		return ve.Kind()
	case errors.As(err, &te):
		return te.Kind()
	case errors.As(err, &re):
		return KindRefused
	}
	return KindNetwork
}
