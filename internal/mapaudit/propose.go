package mapaudit

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tegata-project/tegata/mapping"
)

// propose adds the fixes and advice of reference 7.4 to a pair's finding.
// An explicit strong mapping (X509IssuerSerialNumber, and X509SKI when the
// certificate has the extension) is proposed for a pair that is weak or has
// no mapping; a pair whose certificate carries a wrong or malformed SID,
// or whose issuer is the problem, gets advice only. Weak types and
// SHA1-PUKEY are never proposed, nor is raising the backdating compensation
// or Compatibility mode.
func (a *Auditor) propose(f *Finding, in *CertificateInput, acct *DirectoryAccount, sid string) {
	c := in.Cert
	w := &f.Worst
	if f.Outcome == OutcomeAllowed && f.Compatibility == OutcomeAllowed {
		if w.MappingType == mapping.X509SHA1PublicKey.String() {
			f.Advice = append(f.Advice, "mapped through SHA1-PUKEY, whose hashed input is unconfirmed (Q1): an X509IssuerSerialNumber value would be certain")
		}
		return
	}
	ntauthNote := func() {
		if c.NTAuth == mapping.NTAuthNo {
			f.Advice = append(f.Advice, "the issuing CA is not in NTAuth: explicit mappings need it from the 2025-10-14 update (KB5057784); publish it with certutil -dspublish -f issuing.cer NTAuthCA")
		}
	}
	switch w.Path {
	case mapping.PathSIDMismatch:
		f.Advice = append(f.Advice, fmt.Sprintf("the certificate carries the SID %s, not the account's %s: re-issue the certificate for this account; no mapping is proposed, since a strong mapping would hide the mismatch", f.Certificate.SID, acct.ObjectSID))
		return
	case mapping.PathSIDError:
		f.Advice = append(f.Advice, "the certificate's SID is malformed or duplicated (KRB_ERR_GENERIC): re-issue it from a patched CA")
		return
	case mapping.PathNTAuthDenied, mapping.PathNotTrusted:
		f.Advice = append(f.Advice, "publish the issuing CA in NTAuth (certutil -dspublish -f issuing.cer NTAuthCA); DCs pick it up at the next Group Policy refresh")
		return
	case mapping.PathStrongExplicit, mapping.PathKeyTrust, mapping.PathSIDMatch, mapping.PathStrongNamePolicy:
		// Mapped strongly; an event here is KB5057784's audit of the issuer.
		ntauthNote()
		return
	}
	if w.Path == mapping.PathNoMapping && !slices.Contains(f.FoundBy, viaNames[5]) && len(c.UPNs)+len(c.DNSNames) > 0 {
		// Found through its SID only, while its names point elsewhere: the
		// owner is ambiguous, and a mapping would pick one.
		f.Advice = append(f.Advice, "the certificate carries this account's SID but its UPN or DNS name belongs to no such account: re-issue it with consistent names; no mapping is proposed")
		return
	}
	if acct.Class == mapping.ClassTrust {
		f.Advice = append(f.Advice, "trust accounts are out of scope of the prediction: no fix proposed")
		return
	}
	if w.Path == mapping.PathPredates {
		f.Advice = append(f.Advice, "the account was created after the certificate was issued (re-created account): re-issue the certificate; the mapping below is the alternative")
	}
	if c.SIDExtension.State == mapping.SIDAbsent {
		f.Advice = append(f.Advice, "the certificate has no SID extension: if it comes from an AD CS online template, re-enrol it after patching the CA (check CT_FLAG_NO_SECURITY_EXTENSION and DisableExtensionList); Intune SCEP: add the URI SAN tag:microsoft.com,2022-09-14:sid:{{OnPremisesSecurityIdentifier}}")
	}
	ntauthNote()
	reason := string(w.Outcome) + " on " + f.WorstDC + " (" + string(w.Path) + "): explicit strong mapping (reference 7.4)"
	if f.Outcome == OutcomeAllowed {
		reason = string(f.Compatibility) + " in Compatibility mode (" + string(w.Path) + "): explicit strong mapping (reference 7.4)"
	}
	for _, t := range [...]mapping.MappingType{mapping.X509IssuerSerialNumber, mapping.X509SKI} {
		v, err := mapping.Render(c, t)
		switch {
		case errors.Is(err, mapping.ErrUnrenderableName):
			f.Advice = append(f.Advice, "the issuer name cannot be rendered with certainty (Q10): no X509IssuerSerialNumber value is proposed")
			continue
		case err != nil:
			continue
		case containsFold(acct.AltSecurityIdentities, v):
			continue
		}
		if f.Fixes == nil {
			f.Fixes = make([]Fix, 0, 2)
		}
		f.Fixes = append(f.Fixes, Fix{DN: acct.DN, SID: sid, Class: acct.Class, Value: v, Certificate: in.Origin, Reason: reason})
	}
	if len(f.Fixes) == 0 {
		f.Advice = append(f.Advice, "no strong altSecurityIdentities value can be proposed for this certificate: re-issue it with the SID extension")
	} else {
		f.Advice = append(f.Advice, "an explicit mapping must be maintained: every re-issued certificate needs a new value, and old values should be removed after expiry")
	}
}

func containsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}
