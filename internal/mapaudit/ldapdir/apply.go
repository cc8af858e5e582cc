package ldapdir

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/tegata-project/tegata/internal/mapaudit"
	"github.com/tegata-project/tegata/mapping"
)

const attrAltSecID = "altSecurityIdentities"

// apply adds each fix's value (reference 3.8): an add of one value, never a
// replace, after a case-insensitive look at the values already there, so a
// second run changes nothing.
func (s *session) apply(fixes []mapaudit.Fix) ([]mapaudit.FixResult, error) {
	results := make([]mapaudit.FixResult, 0, len(fixes))
	for _, f := range fixes {
		r := mapaudit.FixResult{Fix: f}
		status, err := s.applyOne(f)
		if err != nil && (isConnectionError(err) || s.ctx.Err() != nil) {
			return results, s.failed(fmt.Errorf("ldapdir: the connection to %s failed while adding to %s after %d of %d fixes had been applied (each was written or found present; see the results): %w; run again: fixes already applied are found present",
				s.cfg.URL, f.DN, len(results), len(fixes), err))
		}
		r.Status, r.Err = status, err
		results = append(results, r)
	}
	return results, nil
}

func (s *session) applyOne(f mapaudit.Fix) (mapaudit.FixStatus, error) {
	switch {
	case f.DN == "":
		return mapaudit.FixFailed, errors.New("the fix names no account DN")
	case f.Value == "":
		return mapaudit.FixFailed, fmt.Errorf("%s: the fix has an empty value", f.DN)
	case len(f.Value) > mapping.MaxAltSecIDLength:
		return mapaudit.FixFailed, fmt.Errorf("%s: the value is %d bytes, longer than %d", f.DN, len(f.Value), mapping.MaxAltSecIDLength)
	}
	e, err := s.baseSearch(f.DN, []string{attrAltSecID})
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return mapaudit.FixFailed, fmt.Errorf("%s does not exist in %s (renamed or deleted since the audit?); audit again", f.DN, s.cfg.URL)
	case isConnectionError(err) || s.ctx.Err() != nil:
		return mapaudit.FixFailed, err
	case err == nil:
		existing, err := s.values(e, attrAltSecID)
		if isConnectionError(err) || s.ctx.Err() != nil {
			return mapaudit.FixFailed, err
		}
		for _, v := range existing {
			if strings.EqualFold(string(v), f.Value) {
				return mapaudit.FixPresent, nil
			}
		}
	}
	// An unreadable attribute is not a reason to skip the write: the add is
	// idempotent anyway (result 20).
	req := ldap.NewModifyRequest(f.DN, nil)
	req.Add(attrAltSecID, []string{f.Value})
	err = s.conn.Modify(req)
	switch {
	case err == nil:
		return mapaudit.FixAdded, nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists):
		return mapaudit.FixPresent, nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights):
		return mapaudit.FixFailed, fmt.Errorf("%w: %s may not write altSecurityIdentities on %s (%v); delegate \"Write altSecurityIdentities\" on the account or its OU to it (reference 3.1), or have an administrator apply the LDIF",
			ErrPermission, s.bindName(), f.DN, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return mapaudit.FixFailed, fmt.Errorf("%s does not exist in %s (renamed or deleted since the audit?); audit again", f.DN, s.cfg.URL)
	case isConnectionError(err) || s.ctx.Err() != nil:
		return mapaudit.FixFailed, err
	}
	return mapaudit.FixFailed, fmt.Errorf("adding the value to %s: %w", f.DN, err)
}

func (s *session) bindName() string {
	switch {
	case s.cfg.BindDN == "":
		return "the anonymous bind"
	case s.cfg.NTLMDomain != "":
		return fmt.Sprintf("%q", s.cfg.NTLMDomain+`\`+s.cfg.BindDN)
	}
	return fmt.Sprintf("%q", s.cfg.BindDN)
}

// maxLookupName bounds LookupAccount's name.
const maxLookupName = 1024

// lookup finds one account by SID string, sAMAccountName (with or without
// the computer's "$"), userPrincipalName or dNSHostName.
func (s *session) lookup(name string) (*mapaudit.DirectoryAccount, error) {
	if name == "" || len(name) > maxLookupName {
		return nil, fmt.Errorf("%w: the account name is empty or longer than %d bytes", ErrConfig, maxLookupName)
	}
	var filter string
	if strings.HasPrefix(name, "S-") || strings.HasPrefix(name, "s-") {
		sid, err := mapping.ParseSID(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %q looks like a SID but is not one: %v", ErrConfig, name, err)
		}
		// The escaped binary form works on AD and Samba alike (reference 2.4).
		filter = "(objectSid=" + escapeBytes(sid.Bytes()) + ")"
	} else {
		v := ldap.EscapeFilter(name)
		filter = "(|(sAMAccountName=" + v + ")(userPrincipalName=" + v + ")(dNSHostName=" + v + ")"
		if !strings.HasSuffix(name, "$") {
			filter += "(sAMAccountName=" + v + "$)"
		}
		filter += ")"
	}
	filter = "(&(objectClass=user)" + filter + ")"
	req := ldap.NewSearchRequest(s.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
		filter, accountAttributes, nil)
	res, err := s.conn.Search(req)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return nil, s.failed(fmt.Errorf("ldapdir: looking up %q in %s under %s: %w", name, s.cfg.URL, s.baseDN, err))
	}
	switch n := len(res.Entries); {
	case n == 0:
		return nil, fmt.Errorf("%w: no user or computer %q under %s in %s (matched as SID, sAMAccountName, UPN or DNS host name); check the name and --base-dn",
			ErrAccountNotFound, name, s.baseDN, s.cfg.URL)
	case n > 1 || err != nil:
		var dns []string
		for _, e := range res.Entries {
			dns = append(dns, e.DN)
		}
		return nil, fmt.Errorf("%w: %q matches %s; give the SID or the userPrincipalName instead", ErrAmbiguousAccount, name, strings.Join(dns, " and "))
	}
	acct, problems, err := s.account(res.Entries[0])
	if err != nil {
		return nil, err
	}
	if acct == nil {
		return nil, fmt.Errorf("ldapdir: %s: %w", s.cfg.URL, problems[0])
	}
	return acct, nil
}

// escapeBytes escapes every byte for an LDAP filter value (RFC 4515).
func escapeBytes(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		fmt.Fprintf(&sb, `\%02x`, c)
	}
	return sb.String()
}
