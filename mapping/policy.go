package mapping

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
)

// StrongNameRule is one rule of the "Allow name-based strong mappings for
// certificates" policy (reference 4.4): a certificate issued by the CA with
// IssuerThumbprint and carrying any of PolicyOIDs is strongly mapped when
// the account was found by one of the methods.
type StrongNameRule struct {
	// IssuerThumbprint is the SHA-1 thumbprint of the issuing CA
	// certificate (the direct issuer, reference Q8).
	IssuerThumbprint []byte
	// PolicyOIDs are certificatePolicies identifiers in dotted form.
	PolicyOIDs []string
	// IssuerSubject enables the X509IssuerSubject method.
	IssuerSubject bool
	// UPNSuffixes lists the UpnSuffix=<domain> methods.
	UPNSuffixes []string
}

// ParseStrongNameRules parses the policy's rule list, one rule per line:
// "<thumbprint>; <oid>, <oid>...; <method>, <method>..." where a method is
// IssuerSubject or UpnSuffix=<domain>. Blank lines are skipped. Errors wrap
// ErrInvalidPolicy; the KDC then ignores the whole list.
func ParseStrongNameRules(text string) ([]StrongNameRule, error) {
	var rules []StrongNameRule
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		parts := strings.Split(line, ";")
		if len(parts) != 3 {
			return nil, fmt.Errorf("%w: line %d: want <thumbprint>; <oids>; <methods>", ErrInvalidPolicy, n+1)
		}
		tp, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(parts[0]), " ", ""))
		if err != nil || len(tp) != 20 {
			return nil, fmt.Errorf("%w: line %d: thumbprint is not 40 hex digits", ErrInvalidPolicy, n+1)
		}
		r := StrongNameRule{IssuerThumbprint: tp}
		for _, o := range strings.Split(parts[1], ",") {
			if o = strings.TrimSpace(o); o != "" {
				r.PolicyOIDs = append(r.PolicyOIDs, o)
			}
		}
		for _, m := range strings.Split(parts[2], ",") {
			m = strings.TrimSpace(m)
			switch {
			case strings.EqualFold(m, "IssuerSubject"):
				r.IssuerSubject = true
			case hasPrefixFold(m, "UpnSuffix="):
				if s := strings.TrimSpace(m[len("UpnSuffix="):]); s != "" {
					r.UPNSuffixes = append(r.UPNSuffixes, s)
					continue
				}
				return nil, fmt.Errorf("%w: line %d: empty UpnSuffix", ErrInvalidPolicy, n+1)
			case m != "":
				return nil, fmt.Errorf("%w: line %d: unknown method %q", ErrInvalidPolicy, n+1, m)
			}
		}
		if len(r.PolicyOIDs) == 0 || (!r.IssuerSubject && len(r.UPNSuffixes) == 0) {
			return nil, fmt.Errorf("%w: line %d: a rule needs at least one OID and one method", ErrInvalidPolicy, n+1)
		}
		rules = append(rules, r)
	}
	if err := ValidateStrongNameRules(rules); err != nil {
		return nil, err
	}
	return rules, nil
}

// ValidateStrongNameRules checks that every rule has a 20-byte thumbprint
// and that thumbprints are unique across rules.
func ValidateStrongNameRules(rules []StrongNameRule) error {
	for i, r := range rules {
		if len(r.IssuerThumbprint) != 20 {
			return fmt.Errorf("%w: rule %d: thumbprint must be 20 bytes", ErrInvalidPolicy, i+1)
		}
		for j := range i {
			if bytes.Equal(rules[j].IssuerThumbprint, r.IssuerThumbprint) {
				return fmt.Errorf("%w: rules %d and %d share a thumbprint", ErrInvalidPolicy, j+1, i+1)
			}
		}
	}
	return nil
}

// policyMatch reports whether a rule maps cert strongly given how the account
// was found: by an X509IssuerSubject value (issuerSubject) or by a SAN UPN
// (upn, empty if not).
func policyMatch(rules []StrongNameRule, cert *Certificate, issuerSubject bool, upn string) bool {
	for _, r := range rules {
		if len(cert.IssuerThumbprint) == 0 || !bytes.Equal(r.IssuerThumbprint, cert.IssuerThumbprint) {
			continue
		}
		if !anyOIDIn(r.PolicyOIDs, cert.PolicyOIDs) {
			continue
		}
		if r.IssuerSubject && issuerSubject {
			return true
		}
		for _, s := range r.UPNSuffixes {
			if upn != "" && len(upn) > len(s) && strings.EqualFold(upn[len(upn)-len(s)-1:], "@"+s) {
				return true
			}
		}
	}
	return false
}

func anyOIDIn(want, have []string) bool {
	for _, w := range want {
		for _, h := range have {
			if w == h {
				return true
			}
		}
	}
	return false
}
