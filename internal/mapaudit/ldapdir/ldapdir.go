// Package ldapdir reads the accounts, domain controllers and NTAuth store that
// strong certificate mapping depends on from a live Active Directory over
// LDAPS or StartTLS, and writes altSecurityIdentities fixes.
//
// It speaks LDAP v3 with github.com/go-ldap/ldap/v3 (reference 9.1 and 9.3):
// it never sends a bind or directory data over an unencrypted connection,
// pages every search with the paged-results control and streams the pages,
// fetches the remaining values of ranged attributes (attr;range=0-1499),
// and bounds every input. An entry it cannot use becomes a Problem naming
// its DN; the rest is still read.
package ldapdir

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tegata-project/tegata/internal/mapaudit"
)

// Config says how to reach and bind to a directory.
type Config struct {
	// URL is ldaps://host[:636] or ldap://host[:389]; plain ldap:// is used
	// only with StartTLS.
	URL string
	// BindDN (a DN or a UPN) and Password make a simple bind; with NTLMDomain
	// set, an NTLM bind of NTLMDomain\BindDN: SASL GSS-SPNEGO carrying
	// NTLMv2 with the TLS channel binding, which AD and Samba accept
	// (Samba before 4.20 only with ldap server require strong auth =
	// allow_sasl_over_tls).
	BindDN, Password, NTLMDomain string
	// CAFile holds the PEM roots that verify the directory's certificate; the
	// system roots when empty. ServerName overrides the name verified.
	CAFile, ServerName string
	// StartTLS upgrades an ldap:// connection before binding.
	StartTLS bool
	// BaseDN is the search base; the RootDSE's defaultNamingContext when empty.
	BaseDN string
	// PageSize is the paged-results page size (default 500, at most 1000).
	PageSize int
	// Timeout bounds each network operation (default 30 s).
	Timeout time.Duration
	// MaxEntries bounds the accounts one Read accepts (default 5,000,000).
	MaxEntries int
}

// Defaults and bounds applied to Config and to what the directory returns.
const (
	DefaultPageSize   = 500
	MaxPageSize       = 1000 // AD's default MaxPageSize
	DefaultTimeout    = 30 * time.Second
	DefaultMaxEntries = 5_000_000
	// MaxValues bounds the values read of one multi-valued attribute of one
	// entry (altSecurityIdentities, userCertificate, cACertificate), ranged
	// retrieval included.
	MaxValues = 10_000
)

// Errors, always wrapped with the URL, DN or search concerned and what to do;
// branch on them with errors.Is or errors.As.
var (
	// ErrConfig reports a Config that cannot be used.
	ErrConfig = errors.New("ldapdir: invalid configuration")
	// ErrInsecureTransport reports an ldap:// URL without StartTLS: tegata
	// never sends a password or directory data in clear text.
	ErrInsecureTransport = errors.New("ldapdir: refusing to bind over unencrypted LDAP")
	// ErrPagingUnsupported reports a directory whose RootDSE does not list
	// the paged-results control (1.2.840.113556.1.4.319).
	ErrPagingUnsupported = errors.New("ldapdir: the directory does not support paged results")
	// ErrTooManyEntries reports a directory larger than Config.MaxEntries.
	ErrTooManyEntries = errors.New("ldapdir: too many entries")
	// ErrAccountNotFound and ErrAmbiguousAccount are LookupAccount's results
	// for a name that matches no account, or more than one.
	ErrAccountNotFound  = errors.New("ldapdir: account not found")
	ErrAmbiguousAccount = errors.New("ldapdir: name matches more than one account")
	// ErrPermission reports a write refused with insufficientAccessRights (50).
	ErrPermission = errors.New("ldapdir: insufficient access rights")
)

// A TLSError is a failed TLS handshake: most often a directory certificate
// that the configured roots do not verify, or that does not name the host.
type TLSError struct {
	URL, CAFile string
	Err         error
}

func (e *TLSError) Error() string {
	roots := "the system roots"
	if e.CAFile != "" {
		roots = "the CA certificates in " + e.CAFile
	}
	return fmt.Sprintf("ldapdir: TLS handshake with %s failed: %v; the directory's certificate must chain to %s and name the host in the URL (or the server name given); give the CA that issued the DC's LDAPS certificate (--ldap-ca-file)",
		e.URL, e.Err, roots)
}

func (e *TLSError) Unwrap() error { return e.Err }

// A BindError is a refused bind.
type BindError struct {
	URL, User, Method string
	Err               error
	// Hint says what to do; the default asks to check the name and password.
	Hint string
}

func (e *BindError) Error() string {
	hint := e.Hint
	if hint == "" {
		hint = "check the account name (a DN or user@domain for a simple bind, the sAMAccountName with --ntlm-domain for NTLM) and the password file"
	}
	return fmt.Sprintf("ldapdir: %s bind to %s as %q failed: %v; %s", e.Method, e.URL, e.User, e.Err, hint)
}

func (e *BindError) Unwrap() error { return e.Err }

// A ReadError is a search that failed part-way, typically because the
// connection dropped: it says how far the read got.
type ReadError struct {
	URL string
	// Search names what was being read: "users", "computers", "domain
	// controllers", "NTAuth store".
	Search string
	// Page is the page that failed (1 for the first), PageSize the size
	// asked for, and Accounts the accounts read before it, in all searches.
	Page, PageSize, Accounts int
	Err                      error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("ldapdir: reading %s from %s failed on page %d (page size %d) after %d accounts had been read: %v; nothing was kept or written: run the read again, and if it fails at the same point lower the page size (--page-size) or check for a proxy or load balancer cutting long responses",
		e.Search, e.URL, e.Page, e.PageSize, e.Accounts, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// Read reads every user, computer and DC account under the base, the domain
// controllers and the NTAuth store. progress, when not nil, is called with
// the number of accounts read so far after each page.
func Read(ctx context.Context, cfg Config, progress func(accounts int)) (*mapaudit.Directory, error) {
	s, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	return s.readDirectory(progress)
}

// Apply adds each fix's value to its account. It never removes or replaces a
// value. A connection failure is returned as the error; per-fix failures are
// in the results.
func Apply(ctx context.Context, cfg Config, fixes []mapaudit.Fix) ([]mapaudit.FixResult, error) {
	s, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	return s.apply(fixes)
}

// LookupAccount finds one account by sAMAccountName, userPrincipalName or
// SID string. A name without "$" also matches the computer account name+"$",
// and a DNS name matches dNSHostName, so "WS1" and "ws1.corp.test" both find
// the computer WS1$.
func LookupAccount(ctx context.Context, cfg Config, name string) (*mapaudit.DirectoryAccount, error) {
	s, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	return s.lookup(name)
}
