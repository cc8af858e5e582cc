package auth

import (
	"fmt"
	"net/url"
	"strings"
)

// Challenge returns the WWW-Authenticate value of a 401, as Key Vault sends it:
//
//	Bearer authorization="<authority>", resource="<resource>"
//
// The client gets a token for resource + "/.default" from the tenant that is the
// first path segment of authority. Challenge refuses values the Azure SDKs
// cannot use (reference A.4): the Go SDK splits the header on spaces and each
// piece on "=", and panics when authority has no path; without a tenant every
// request is first sent unauthenticated. So authority must be an absolute http
// or https URL with a non-empty first path segment, resource an absolute URI
// with a host (clients compare the vault's host with it), and neither may
// contain a space, control character, '=', '"' or ',' (or a query or fragment).
func Challenge(authority, resource string) (string, error) {
	if err := checkChallengeValue("authority", authority); err != nil {
		return "", err
	}
	if err := checkChallengeValue("resource", resource); err != nil {
		return "", err
	}
	u, err := url.Parse(authority)
	if err != nil {
		return "", fmt.Errorf("challenge authority %q is not a URL: %w", authority, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return "", fmt.Errorf("challenge authority %q is not an absolute https URL", authority)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("challenge authority %q has user info, a query or a fragment; use scheme://host/<tenant>", authority)
	}
	tenant, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if tenant == "" {
		return "", fmt.Errorf("challenge authority %q has no tenant as its first path segment (the Go SDK panics without one); use e.g. %s/<tenant-id>", authority, strings.TrimRight(authority, "/"))
	}
	r, err := url.Parse(resource)
	if err != nil || r.Scheme == "" || r.Host == "" {
		return "", fmt.Errorf("challenge resource %q is not an absolute URI with a host, e.g. https://vault.tegata.example", resource)
	}
	if r.RawQuery != "" || r.ForceQuery || r.Fragment != "" {
		return "", fmt.Errorf("challenge resource %q has a query or a fragment", resource)
	}
	return `Bearer authorization="` + authority + `", resource="` + resource + `"`, nil
}

// checkChallengeValue refuses what the SDKs' challenge parsers cannot carry.
func checkChallengeValue(what, v string) error {
	if v == "" {
		return fmt.Errorf("challenge %s is empty", what)
	}
	for _, r := range v {
		switch {
		case r <= ' ' || r == 0x7f:
			return fmt.Errorf("challenge %s %q contains a space or control character; the Go SDK splits the header on spaces", what, v)
		case r == '=':
			return fmt.Errorf("challenge %s %q contains '='; the Go SDK drops any parameter with more than one '='", what, v)
		case r == '"':
			return fmt.Errorf("challenge %s %q contains a double quote", what, v)
		case r == ',':
			return fmt.Errorf("challenge %s %q contains a comma, which separates challenge parameters", what, v)
		}
	}
	return nil
}

// TenantAuthority returns the authority of tenant under base (e.g.
// "https://login.tegata.example" and a tenant ID give
// "https://login.tegata.example/<tenant-id>"), ignoring trailing slashes of base.
// It does not validate; Challenge does.
func TenantAuthority(base, tenant string) string {
	return strings.TrimRight(base, "/") + "/" + tenant
}
