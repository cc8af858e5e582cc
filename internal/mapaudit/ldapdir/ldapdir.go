// Package ldapdir reads the accounts, domain controllers and NTAuth store that
// strong certificate mapping depends on from a live Active Directory over
// LDAPS or StartTLS, and writes altSecurityIdentities fixes.
package ldapdir

import (
	"context"
	"errors"
	"time"

	"github.com/tegata-project/tegata/internal/mapaudit"
)

// Config says how to reach and bind to a directory.
type Config struct {
	// URL is ldaps://host[:636] or ldap://host[:389]; plain ldap:// is used
	// only with StartTLS.
	URL string
	// BindDN (a DN or a UPN) and Password make a simple bind; with NTLMDomain
	// set, an NTLM bind of BindDN as the user name.
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
}

var errNotBuilt = errors.New("ldapdir: not built yet")

// Read reads every user, computer and DC account under the base, the domain
// controllers and the NTAuth store. progress, when not nil, is called with
// the number of accounts read so far after each page.
func Read(ctx context.Context, cfg Config, progress func(accounts int)) (*mapaudit.Directory, error) {
	return nil, errNotBuilt
}

// Apply adds each fix's value to its account. It never removes or replaces a
// value. A connection failure is returned as the error; per-fix failures are
// in the results.
func Apply(ctx context.Context, cfg Config, fixes []mapaudit.Fix) ([]mapaudit.FixResult, error) {
	return nil, errNotBuilt
}

// LookupAccount finds one account by sAMAccountName, userPrincipalName or
// SID string.
func LookupAccount(ctx context.Context, cfg Config, name string) (*mapaudit.DirectoryAccount, error) {
	return nil, errNotBuilt
}
