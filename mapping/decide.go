package mapping

import (
	"strings"
	"time"
)

// found is the outcome of finding the mapping (reference 5.4).
type found struct {
	m      Mapping
	labels []Label
	// Methods for the strong-name policy: the account matched an
	// X509IssuerSubject value, and the SAN UPN that matched implicitly.
	issuerSubject bool
	upn           string
}

// findMapping evaluates explicit, key trust, then implicit mapping.
func findMapping(cert *Certificate, acct *Account) found {
	var f found
	best := -1
	var cands []Candidate
	if len(acct.AltSecurityIdentities) > 0 {
		cands = cert.candidates()
	}
	for _, v := range acct.AltSecurityIdentities {
		for i, c := range cands {
			if !strings.EqualFold(c.Value, v) {
				continue
			}
			if c.Type == X509IssuerSubject {
				f.issuerSubject = true
			}
			if best < 0 || c.Type.Strength() > cands[best].Type.Strength() {
				best = i
				f.m = Mapping{Kind: MappingExplicit, Type: c.Type, Value: v, Strength: c.Type.Strength()}
			}
		}
	}
	if best >= 0 {
		f.labels = cands[best].Labels
	}
	if acct.Class == ClassUser {
		for _, u := range cert.UPNs {
			if acct.UserPrincipalName != "" && strings.EqualFold(u, acct.UserPrincipalName) {
				f.upn = u
				break
			}
		}
	}
	if best >= 0 {
		return f
	}
	if acct.KeyCredentialLink && cert.SelfSigned() {
		f.m = Mapping{Kind: MappingKeyTrust, Strength: Strong}
		f.labels = []Label{LabelKeyTrustNotEvaluated}
		return f
	}
	switch acct.Class {
	case ClassUser:
		if f.upn != "" {
			f.m = Mapping{Kind: MappingImplicitUPN, Value: f.upn, Strength: Weak}
			return f
		}
		for _, u := range cert.UPNs {
			prefix, _, ok := strings.Cut(u, "@")
			if ok && acct.SAMAccountName != "" && strings.EqualFold(prefix, acct.SAMAccountName) {
				f.m = Mapping{Kind: MappingImplicitSAMAccountName, Value: u, Strength: Weak}
				f.labels = []Label{LabelSAMAccountNameFallback}
				return f
			}
		}
	case ClassComputer, ClassDomainController:
		for _, d := range cert.DNSNames {
			if acct.DNSHostName != "" && strings.EqualFold(d, acct.DNSHostName) {
				f.m = Mapping{Kind: MappingImplicitDNS, Value: d, Strength: Weak}
				return f
			}
		}
	}
	return f
}

// Decide predicts the KDC's verdict when cert is presented for acct to the
// domain controller dc, following the decision procedure of reference 5.5.
// A nil acct means the client name resolves to no account. Decide never
// panics and is safe for concurrent use; a nil cert is denied as unmapped.
func Decide(cert *Certificate, acct *Account, dc DCState) Verdict {
	return decideAll(cert, acct, dc, false)
}

// DecideBrief returns the verdict Decide returns, without the explanation:
// Steps is nil. An audit of many pairs reports reasons, events and paths but
// not the steps, and formatting them is most of Decide's cost.
func DecideBrief(cert *Certificate, acct *Account, dc DCState) Verdict {
	v := decideAll(cert, acct, dc, true)
	v.brief = false
	return v
}

func decideAll(cert *Certificate, acct *Account, dc DCState, brief bool) Verdict {
	if cert == nil || acct == nil {
		v := Verdict{Mode: dc.Mode(), Path: PathNoMapping, KerberosError: KDCErrCPrincipalUnknown,
			Reason: "the client name resolves to no account", brief: brief}
		v.step("no account (or no certificate) to map: KDC_ERR_C_PRINCIPAL_UNKNOWN, no KB5014754 event")
		return v
	}
	// SAN URL support matters only when it would be the SID source.
	sanMatters := cert.SIDExtension.State == SIDAbsent && cert.SANURL.State != SIDAbsent && cert.SANURL.State != SIDIgnored
	switch support := dc.SANURLSupported(); {
	case support == Uncertain && sanMatters:
		with := decide(cert, acct, dc, true, brief)
		without := decide(cert, acct, dc, false, brief)
		v := with
		if without.severity() > with.severity() {
			v = without
		}
		v.step("SAN URL support on this DC is uncertain (Q4): evaluated with and without it, kept the worse verdict")
		v.label(LabelDependsOnSANURL)
		return v
	default:
		return decide(cert, acct, dc, support == Yes, brief)
	}
}

func decide(cert *Certificate, acct *Account, dc DCState, sanURL, brief bool) Verdict {
	v := Verdict{Mode: dc.Mode(), brief: brief}
	p, assumed := dc.PatchLevel()
	if assumed {
		v.label(LabelPatchLevelAssumed)
		if p.Equal(latest) {
			v.step("patch level not declared and no as-of date: assumed fully patched")
		} else {
			if v.explaining() {
				v.step("patch level not declared: assumed patched up to %s", p.Format(time.DateOnly))
			}
		}
	} else {
		if v.explaining() {
			v.step("patch level %s", p.Format(time.DateOnly))
		}
	}
	if v.explaining() {
		v.step("%s; effective mode %s", dc.OS, v.Mode)
	}
	weakID, predatesID, mismatchID := dc.EventIDs()

	f := findMapping(cert, acct)
	v.Mapping = f.m
	for _, l := range f.labels {
		v.label(l)
	}
	if f.m.Kind == MappingNone {
		return v.deny(KDCErrClientNameMismatch, PathNoMapping,
			"no explicit, key trust or implicit mapping links the certificate to the account")
	}
	if v.explaining() {
		v.step("mapping found: %s %s (%s)", f.m.Kind, f.m.Value, f.m.Strength)
	}

	implicit := f.m.Kind == MappingImplicitUPN || f.m.Kind == MappingImplicitSAMAccountName || f.m.Kind == MappingImplicitDNS
	if implicit {
		switch cert.NTAuth {
		case NTAuthNo:
			return v.deny(KDCErrClientNotTrusted, PathNotTrusted,
				"implicit (SAN) mapping requires the issuing CA in NTAuth; this is a prerequisite failure, not a KB5014754 outcome")
		case NTAuthUnknown:
			v.label(LabelNTAuthNotEvaluated)
		}
	}

	// KB5057784 overlay for explicit mappings.
	if f.m.Kind == MappingExplicit && f.m.Type.NTAuthChecked() {
		switch mode := dc.NTAuthMode(); {
		case mode == NTAuthOff:
			v.step("KB5057784 NTAuth check for explicit mappings not active")
		case cert.NTAuth == NTAuthUnknown:
			v.label(LabelNTAuthNotEvaluated)
			v.step("KB5057784 NTAuth check active, issuer membership not evaluated")
		case cert.NTAuth == NTAuthNo && mode == NTAuthAudit:
			v.event(45, LevelWarning)
			v.step("issuer not in NTAuth, KB5057784 audit mode: event 45 (Warning), continue")
		case cert.NTAuth == NTAuthNo:
			v.event(21, LevelError)
			return v.deny(KerberosErrorUnknown, PathNTAuthDenied,
				"explicit mapping of an issuer that is not in NTAuth, KB5057784 enforcement")
		default:
			v.step("issuer in NTAuth")
		}
	}

	if v.Mode == ModeNone || v.Mode == ModeDisabled {
		return v.allow(PathPreKB, "the DC does not apply KB5014754 checks")
	}

	certSID, sidState, sidSource := selectSID(cert, sanURL, &v)
	if f.m.Kind == MappingExplicit && f.m.Strength == Strong || f.m.Kind == MappingKeyTrust {
		if sidState == SIDValid {
			if s, err := certSID.Resolve(acctDomain(acct)); err == nil && !s.Equal(acct.ObjectSID) {
				v.label(LabelWrongSIDIgnored)
				if v.explaining() {
					v.step("the certificate's SID %s differs from the account's %s; ignored", certSID.Text, acct.ObjectSID)
				}
			}
		}
		if f.m.Kind == MappingKeyTrust {
			return v.allow(PathKeyTrust, "key trust is a strong mapping: no SID or date check")
		}
		return v.allow(PathStrongExplicit, "strong explicit mapping: no SID or date check")
	}

	if acct.Class == ClassUser && len(dc.StrongNameRules) > 0 {
		switch {
		case !dc.StrongNamePolicySupported():
			v.step("name-based strong mapping policy set but not supported by this DC (needs 2019+ with 2024-09-10)")
		case ValidateStrongNameRules(dc.StrongNameRules) != nil:
			v.label(LabelStrongNamePolicyInvalid)
			v.step("name-based strong mapping policy invalid: ignored")
		case policyMatch(dc.StrongNameRules, cert, f.issuerSubject, f.upn):
			v.Mapping.Strength = Strong
			return v.allow(PathStrongNamePolicy, "a name-based strong mapping rule matches the issuer, a policy OID and the mapping method")
		default:
			v.step("no name-based strong mapping rule matches")
		}
	}

	switch sidState {
	case SIDMalformed, SIDDuplicate:
		msg := "the certificate's " + sidSource + " SID is " + sidState.String()
		if err := certSID.Err; err != nil {
			msg += ": " + err.Error()
		}
		return v.deny(KRBErrGeneric, PathSIDError, msg)
	case SIDValid:
		s, err := certSID.Resolve(acctDomain(acct))
		if err != nil {
			return v.deny(KRBErrGeneric, PathSIDError, "the certificate's SID text does not convert: "+err.Error())
		}
		if s.Equal(acct.ObjectSID) {
			return v.allow(PathSIDMatch, "the certificate's "+sidSource+" SID equals the account's objectSid")
		}
		v.event(mismatchID, LevelError)
		return v.deny(KDCErrCertificateMismatch, PathSIDMismatch,
			"the certificate's SID "+s.String()+" differs from the account's "+acct.ObjectSID.String())
	}

	// Weak path: a weak mapping and no SID.
	if v.Mode == ModeEnforcement {
		v.event(weakID, LevelError)
		return v.deny(KDCErrCertificateMismatch, PathWeak, "weak mapping without a SID in Full Enforcement")
	}
	comp := dc.Compensation()
	if acct.WhenCreated.IsZero() {
		v.label(LabelWhenCreatedUnknown)
		v.event(weakID, LevelWarning)
		return v.allow(PathWeak, "weak mapping in Compatibility; account creation time unknown")
	}
	nb := cert.NotBefore.UTC().Truncate(time.Second)
	created := acct.WhenCreated.UTC().Truncate(time.Second)
	if v.explaining() {
		v.step("NotBefore %s + compensation %s vs whenCreated %s", nb.Format(time.RFC3339), comp, created.Format(time.RFC3339))
	}
	if !nb.Add(comp).Before(created) {
		v.event(weakID, LevelWarning)
		return v.allow(PathWeak, "weak mapping in Compatibility: allowed and logged")
	}
	v.event(predatesID, LevelError)
	return v.deny(KDCErrCertificateMismatch, PathPredates, "the certificate predates the account, even with the backdating compensation")
}

// selectSID picks the SID source as the KDC does: the extension when
// present, otherwise the SAN URL when the DC supports it.
func selectSID(cert *Certificate, sanURL bool, v *Verdict) (SIDSource, SIDState, string) {
	if cert.DuplicateSIDExtension {
		v.label(LabelDuplicateSIDExtension)
	}
	if st := cert.SIDExtension.State; st != SIDAbsent {
		if st == SIDNone {
			v.step("SID extension present without a SID otherName: no SID (Q12)")
			return cert.SIDExtension, SIDAbsent, ""
		}
		if st == SIDValid && !cert.SIDExtension.Canonical {
			v.label(LabelSIDNotCanonical)
		}
		if v.explaining() {
			v.step("SID extension: %s %s", st, cert.SIDExtension.Text)
		}
		return cert.SIDExtension, st, "SID extension"
	}
	switch st := cert.SANURL.State; {
	case st == SIDIgnored:
		v.label(LabelSANURLNonCanonical)
		v.step("SAN URL resembles the SID prefix but differs in case or spacing: ignored")
	case st == SIDAbsent:
		v.step("no SID extension and no SAN URL SID")
	case !sanURL:
		v.label(LabelSANURLIgnored)
		v.step("SAN URL SID present but this DC does not support SAN URL mapping: ignored")
	default:
		if st == SIDValid && !cert.SANURL.Canonical {
			v.label(LabelSIDNotCanonical)
		}
		if v.explaining() {
			v.step("SAN URL SID: %s %s", st, cert.SANURL.Text)
		}
		return cert.SANURL, st, "SAN URL"
	}
	return SIDSource{}, SIDAbsent, ""
}

func acctDomain(a *Account) SID {
	d, _ := a.ObjectSID.Domain()
	return d
}

func (v Verdict) allow(p Path, reason string) Verdict {
	v.Allowed, v.Path, v.Reason = true, p, reason
	v.finish()
	if v.explaining() {
		v.step("allow: %s", reason)
	}
	return v
}

func (v Verdict) deny(code KerberosError, p Path, reason string) Verdict {
	v.Allowed, v.KerberosError, v.Path, v.Reason = false, code, p, reason
	v.finish()
	if v.explaining() {
		v.step("deny with %s: %s", code, reason)
	}
	return v
}

// finish sets EventID and Level from Events: the KB5014754 event when there
// is one, otherwise the last KB5057784 event.
func (v *Verdict) finish() {
	for _, e := range v.Events {
		if v.EventID == 0 || e.ID != 45 && e.ID != 21 {
			v.EventID, v.Level = e.ID, e.Level
		}
	}
	if v.EventID != 0 {
		if v.explaining() {
			v.step("event %d (%s)", v.EventID, v.Level)
		}
	}
}
