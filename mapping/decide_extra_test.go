package mapping

import (
	"crypto/x509/pkix"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDecideImplicitPaths(t *testing.T) {
	computer := &Account{ObjectSID: mustSID(t, contosoSID), DNSHostName: "WS1.contoso.com", Class: ClassComputer, WhenCreated: created}
	c := parse(t, certSpec{notBefore: afterAcct, exts: []pkix.Extension{san(t, dns("ws1.contoso.com"))}})
	c.NTAuth = NTAuthYes
	v := Decide(c, computer, dcMode1)
	if !v.Allowed || v.Mapping.Kind != MappingImplicitDNS || v.Mapping.Strength != Weak || v.EventID != 39 {
		t.Errorf("computer DNS mapping: %+v", v)
	}

	// UPN prefix = sAMAccountName fallback is labelled.
	acct := alice(t)
	acct.UserPrincipalName = "alice.smith@contoso.com"
	v = Decide(userCert(t, afterAcct), acct, dcMode1)
	if v.Mapping.Kind != MappingImplicitSAMAccountName || !slices.Contains(v.Labels, LabelSAMAccountNameFallback) {
		t.Errorf("sAMAccountName fallback: kind=%s labels=%q", v.Mapping.Kind, v.Labels)
	}

	// Implicit mapping from a CA outside NTAuth is a prerequisite failure.
	nt := userCert(t, afterAcct)
	nt.NTAuth = NTAuthNo
	if v = Decide(nt, alice(t), dcMode2); v.Allowed || v.KerberosError != KDCErrClientNotTrusted || v.EventID != 0 {
		t.Errorf("implicit without NTAuth: %+v", v)
	}
	nt.NTAuth = NTAuthUnknown
	if v = Decide(nt, alice(t), dcMode1); !slices.Contains(v.Labels, LabelNTAuthNotEvaluated) {
		t.Errorf("NTAuth unknown not labelled: %q", v.Labels)
	}

	// Unknown whenCreated in Compatibility: allowed, logged, labelled.
	acct = alice(t)
	acct.WhenCreated = time.Time{}
	if v = Decide(userCert(t, afterAcct), acct, dcMode1); !v.Allowed || v.EventID != 39 || !slices.Contains(v.Labels, LabelWhenCreatedUnknown) {
		t.Errorf("unknown whenCreated: %+v", v)
	}

	// A weak explicit mapping (IssuerSubject) in Enforcement is denied.
	weak := alice(t, "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<S>DC=com,DC=contoso,CN=Users,CN=Alice Smith")
	weak.UserPrincipalName = ""
	if v = Decide(userCert(t, afterAcct), weak, dcMode2); v.Allowed || v.Mapping.Type != X509IssuerSubject || v.EventID != 39 {
		t.Errorf("weak explicit in Enforcement: %+v", v)
	}
	// Trust accounts get no implicit mapping.
	trust := &Account{ObjectSID: mustSID(t, contosoSID), UserPrincipalName: "alice@contoso.com", Class: ClassTrust}
	if v = Decide(userCert(t, afterAcct), trust, dcMode1); v.Path != PathNoMapping {
		t.Errorf("trust account: %s", v.Path)
	}
}

func TestDecideSIDVariants(t *testing.T) {
	// A lower-case SID converts (ConvertStringSidToSid is lenient) but is labelled.
	v := Decide(userCert(t, afterAcct, sidExtWith(t, strings.ToLower(contosoSID))), alice(t), dcMode2)
	if !v.Allowed || v.Path != PathSIDMatch || !slices.Contains(v.Labels, LabelSIDNotCanonical) {
		t.Errorf("lower-case SID: %+v", v)
	}
	// A domain-relative alias resolves against the account's domain.
	da := alice(t)
	da.ObjectSID = mustSID(t, "S-1-5-21-3623811015-3361044348-30300820-512")
	if v = Decide(userCert(t, afterAcct, sidExtWith(t, "DA")), da, dcMode2); !v.Allowed || v.Path != PathSIDMatch {
		t.Errorf("DA alias: %+v", v)
	}
	// An extension without a SID otherName: no SID, SAN URL not consulted (Q12).
	c := userCert(t, afterAcct, sidExtWith(t), san(t, upn("x@y")))
	if v = Decide(c, alice(t), dcMode2); v.Path != PathWeak {
		t.Errorf("empty SID extension: %s", v.Path)
	}
	// The extension wins over a SAN URL with another SID.
	both := parse(t, certSpec{notBefore: afterAcct, exts: []pkix.Extension{
		san(t, upn("alice@contoso.com"), uri(SANURL(mustSID(t, otherSID)))), sidExt(t, contosoSID)}})
	both.NTAuth = NTAuthYes
	if v = Decide(both, alice(t), dcMode2); !v.Allowed || v.Path != PathSIDMatch {
		t.Errorf("extension over SAN URL: %+v", v)
	}
	// A duplicated SID extension uses the first copy and is labelled.
	dup := userCert(t, afterAcct, sidExt(t, contosoSID), sidExt(t, otherSID))
	if v = Decide(dup, alice(t), dcMode2); !v.Allowed || !slices.Contains(v.Labels, LabelDuplicateSIDExtension) {
		t.Errorf("duplicate extension: %+v", v)
	}
}

func TestDecideExplainAndNil(t *testing.T) {
	v := Decide(userCert(t, created.Add(-time.Hour)), alice(t), dcMode1)
	joined := strings.Join(v.Steps, "\n")
	for _, want := range []string{"patch level 2025-06-10", "Compatibility (1)", "implicit UPN", "NotBefore", "event 40 (Error)", "deny with KDC_ERR_CERTIFICATE_MISMATCH (0x42)"} {
		if !strings.Contains(joined, want) {
			t.Errorf("steps lack %q:\n%s", want, joined)
		}
	}
	if v := Decide(nil, alice(t), dcMode1); v.Allowed || v.KerberosError != KDCErrCPrincipalUnknown {
		t.Errorf("nil certificate: %+v", v)
	}
	// Undeclared patch level is labelled.
	if v := Decide(userCert(t, afterAcct), alice(t), DCState{OS: OS2022}); !slices.Contains(v.Labels, LabelPatchLevelAssumed) || v.Mode != ModeEnforcement {
		t.Errorf("undeclared patch level: mode=%s labels=%q", v.Mode, v.Labels)
	}
}

// TestDecideConcurrent shares one certificate between goroutines (run with -race).
func TestDecideConcurrent(t *testing.T) {
	c := userCert(t, afterAcct)
	acct := alice(t, strongSR)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if v := Decide(c, acct, dcMode2); !v.Allowed || v.Path != PathStrongExplicit {
					errs <- string(v.Path)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error("concurrent verdict:", e)
	}
}

func TestDecideStrongNamePolicyMethods(t *testing.T) {
	c := userCert(t, afterAcct, policyExt(t, policyOID))
	c.IssuerThumbprint = issuerTP
	acct := alice(t, "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<S>DC=com,DC=contoso,CN=Users,CN=Alice Smith")
	acct.UserPrincipalName = ""
	rule := StrongNameRule{IssuerThumbprint: issuerTP, PolicyOIDs: []string{policyOID.String()}, IssuerSubject: true}
	dc := dcMode2
	dc.StrongNameRules = []StrongNameRule{rule}
	if v := Decide(c, acct, dc); !v.Allowed || v.Path != PathStrongNamePolicy || v.Mapping.Strength != Strong {
		t.Errorf("IssuerSubject method: %+v", v)
	}
	// Wrong issuer thumbprint: no match, weak path.
	other := *c
	other.IssuerThumbprint = []byte("another-ca-thumbprin")
	if v := Decide(&other, acct, dc); v.Allowed || v.Path != PathWeak {
		t.Errorf("other issuer: %+v", v)
	}
	// A duplicate thumbprint makes the whole policy invalid: ignored, labelled.
	dc.StrongNameRules = []StrongNameRule{rule, rule}
	if v := Decide(c, acct, dc); v.Allowed || !slices.Contains(v.Labels, LabelStrongNamePolicyInvalid) {
		t.Errorf("invalid policy: %+v", v)
	}
	// UPN suffix of another domain does not match.
	dc.StrongNameRules = []StrongNameRule{{IssuerThumbprint: issuerTP, PolicyOIDs: []string{policyOID.String()}, UPNSuffixes: []string{"fabrikam.com"}}}
	if v := Decide(c, alice(t), dc); v.Allowed {
		t.Errorf("foreign UPN suffix allowed: %+v", v)
	}
}
