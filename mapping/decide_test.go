package mapping

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	created    = time.Date(2024, 1, 15, 9, 30, 12, 0, time.UTC)
	afterAcct  = time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	issuerTP   = []byte("0123456789abcdefghij")
	policyOID  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 2, 1, 3, 13}
	strongSR   = "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SR>1200000000AC11000000002B"
	otherSID   = "S-1-5-21-3623811015-3361044348-30300820-1014"
	otherDomSD = "S-1-5-21-1-2-3-1013"
)

// DC columns of the decision table (reference 5.6).
var (
	dcPreKB = DCState{OS: OS2019, LastUpdate: date(2022, 4, 12)}
	dcMode0 = DCState{OS: OS2019, LastUpdate: date(2022, 6, 14), StrongCertificateBindingEnforcement: DWORD(0)}
	dcMode1 = DCState{OS: OS2019, LastUpdate: date(2025, 6, 10), StrongCertificateBindingEnforcement: DWORD(1)}
	dcMode2 = DCState{OS: OS2019, LastUpdate: date(2025, 6, 10)}
)

func alice(t testing.TB, alt ...string) *Account {
	return &Account{ObjectSID: mustSID(t, contosoSID), UserPrincipalName: "alice@contoso.com", SAMAccountName: "alice",
		WhenCreated: created, Class: ClassUser, AltSecurityIdentities: alt}
}

// userCert is a certificate with a SAN UPN for alice (a weak implicit
// mapping) plus extra extensions, from an NTAuth CA.
func userCert(t testing.TB, nb time.Time, exts ...pkix.Extension) *Certificate {
	c := parse(t, certSpec{notBefore: nb, exts: append([]pkix.Extension{san(t, upn("alice@contoso.com"))}, exts...)})
	c.NTAuth = NTAuthYes
	return c
}

func withSAN(t testing.TB, names ...sanName) *Certificate {
	c := parse(t, certSpec{notBefore: afterAcct, exts: []pkix.Extension{san(t, append([]sanName{upn("alice@contoso.com")}, names...)...)}})
	c.NTAuth = NTAuthYes
	return c
}

type want struct {
	allowed bool
	kerr    KerberosError
	event   int
	level   EventLevel
	path    Path
	labels  []Label
}

var (
	allowQuiet = func(p Path) want { return want{allowed: true, path: p} }
	denyEvent  = func(k KerberosError, id int, p Path) want {
		return want{kerr: k, event: id, level: LevelError, path: p}
	}
)

func TestDecideTable(t *testing.T) {
	sidExtBad := pkix.Extension{Id: OIDSIDExtension, Value: []byte{0x04, 0x00}}
	twoSIDs := sidExtWith(t, contosoSID, contosoSID)
	selfSigned := func() *Certificate {
		c := parse(t, certSpec{issuer: name(t, rdn(u8(oidCN, "alice-key"))), subject: name(t, rdn(u8(oidCN, "alice-key")))})
		c.NTAuth = NTAuthNo
		return c
	}()
	keyTrustAcct := alice(t)
	keyTrustAcct.UserPrincipalName = ""
	keyTrustAcct.KeyCredentialLink = true

	policyCert := func() *Certificate {
		c := userCert(t, afterAcct, policyExt(t, policyOID))
		c.IssuerThumbprint = issuerTP
		return c
	}()
	rules := []StrongNameRule{{IssuerThumbprint: issuerTP, PolicyOIDs: []string{policyOID.String()}, UPNSuffixes: []string{"contoso.com"}}}
	policy := func(dc DCState) DCState { dc.StrongNameRules = rules; return dc }

	notNTAuth := func(c *Certificate) *Certificate { c.NTAuth = NTAuthNo; return c }
	sanURL := uri(SANURL(mustSID(t, contosoSID)))
	predates := created.Add(-601 * time.Second)
	boundary := created.Add(-600 * time.Second)
	dc2008 := DCState{OS: OS2008R2, LastUpdate: date(2023, 1, 10)}
	dc2016m1 := DCState{OS: OS2016, LastUpdate: date(2025, 6, 10), StrongCertificateBindingEnforcement: DWORD(1)}
	dc2016m2 := DCState{OS: OS2016, LastUpdate: date(2025, 6, 10)}
	dcUncertainM1 := DCState{OS: OS2019, LastUpdate: date(2024, 10, 8)}
	dcSANYes := func(dc DCState) DCState { dc.SANURLSupport = Yes; return dc }

	strongAcct := alice(t, "Kerberos:alice@MIT", strings.ToLower(strongSR))
	weak39W := want{allowed: true, event: 39, level: LevelWarning, path: PathWeak}

	tests := []struct {
		name string
		cert *Certificate
		acct *Account
		dc   DCState
		want want
	}{
		// Row 1: strong explicit match, issuer in NTAuth.
		{"row 1/pre-KB", userCert(t, afterAcct), strongAcct, dcPreKB, allowQuiet(PathPreKB)},
		{"row 1/mode 0", userCert(t, afterAcct), strongAcct, dcMode0, allowQuiet(PathPreKB)},
		{"row 1/mode 1", userCert(t, afterAcct), strongAcct, dcMode1, allowQuiet(PathStrongExplicit)},
		{"row 1/mode 2", userCert(t, afterAcct), strongAcct, dcMode2, allowQuiet(PathStrongExplicit)},
		{"row 1/mode 2 SKI", userCert(t, afterAcct, skiExt(t, []byte{0xAB})), alice(t, "X509:<SKI>AB"), dcMode2, allowQuiet(PathStrongExplicit)},
		// Row 2: strong explicit match, issuer not in NTAuth (KB5057784).
		{"row 2/pre-KB", notNTAuth(userCert(t, afterAcct)), strongAcct, dcPreKB, allowQuiet(PathPreKB)},
		{"row 2/mode 1 before 2025-04-08 as row 1", notNTAuth(userCert(t, afterAcct)), strongAcct,
			DCState{OS: OS2019, LastUpdate: date(2024, 6, 11)}, allowQuiet(PathStrongExplicit)},
		{"row 2/mode 1 NTAuth audit", notNTAuth(userCert(t, afterAcct)), strongAcct, dcMode1,
			want{allowed: true, event: 45, level: LevelWarning, path: PathStrongExplicit}},
		{"row 2/mode 1 NTAuth enforce", notNTAuth(userCert(t, afterAcct)), strongAcct,
			DCState{OS: OS2019, LastUpdate: date(2025, 8, 12), StrongCertificateBindingEnforcement: DWORD(1)},
			denyEvent(KerberosErrorUnknown, 21, PathNTAuthDenied)},
		{"row 2/mode 2 NTAuth audit", notNTAuth(userCert(t, afterAcct)), strongAcct, dcMode2,
			want{allowed: true, event: 45, level: LevelWarning, path: PathStrongExplicit}},
		{"row 2/mode 2 NTAuth enforce", notNTAuth(userCert(t, afterAcct)), strongAcct,
			DCState{OS: OS2019, LastUpdate: date(2025, 10, 14)}, denyEvent(KerberosErrorUnknown, 21, PathNTAuthDenied)},
		// Row 3: key trust.
		{"row 3/pre-KB", selfSigned, keyTrustAcct, dcPreKB, allowQuiet(PathPreKB)},
		{"row 3/mode 1", selfSigned, keyTrustAcct, dcMode1, want{allowed: true, path: PathKeyTrust, labels: []Label{LabelKeyTrustNotEvaluated}}},
		{"row 3/mode 2", selfSigned, keyTrustAcct, dcMode2, want{allowed: true, path: PathKeyTrust, labels: []Label{LabelKeyTrustNotEvaluated}}},
		// Row 4: strong-name policy match.
		{"row 4/pre-KB", policyCert, alice(t), policy(dcPreKB), allowQuiet(PathPreKB)},
		{"row 4/mode 1", policyCert, alice(t), policy(dcMode1), allowQuiet(PathStrongNamePolicy)},
		{"row 4/mode 2", policyCert, alice(t), policy(dcMode2), allowQuiet(PathStrongNamePolicy)},
		{"row 4/mode 2 on 2016: policy unsupported, as row 8", policyCert, alice(t), policy(dc2016m2), denyEvent(KDCErrCertificateMismatch, 39, PathWeak)},
		{"row 4/mode 2 computer: policy is users only", policyCert,
			&Account{ObjectSID: mustSID(t, contosoSID), Class: ClassComputer, AltSecurityIdentities: []string{"X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<S>DC=com,DC=contoso,CN=Users,CN=Alice Smith"}, WhenCreated: created},
			policy(dcMode2), denyEvent(KDCErrCertificateMismatch, 39, PathWeak)},
		// Row 5: weak mapping, SID equals the account SID.
		{"row 5/pre-KB", userCert(t, afterAcct, sidExt(t, contosoSID)), alice(t), dcPreKB, allowQuiet(PathPreKB)},
		{"row 5/mode 1 extension", userCert(t, afterAcct, sidExt(t, contosoSID)), alice(t), dcMode1, allowQuiet(PathSIDMatch)},
		{"row 5/mode 2 extension", userCert(t, afterAcct, sidExt(t, contosoSID)), alice(t), dcMode2, allowQuiet(PathSIDMatch)},
		{"row 5/mode 2 SAN URL on supporting DC", withSAN(t, sanURL), alice(t), dcMode2, allowQuiet(PathSIDMatch)},
		// Row 6: weak mapping, SID differs.
		{"row 6/pre-KB", userCert(t, afterAcct, sidExt(t, otherSID)), alice(t), dcPreKB, allowQuiet(PathPreKB)},
		{"row 6/mode 1 other RID", userCert(t, afterAcct, sidExt(t, otherSID)), alice(t), dcMode1, denyEvent(KDCErrCertificateMismatch, 41, PathSIDMismatch)},
		{"row 6/mode 2 other domain", userCert(t, afterAcct, sidExt(t, otherDomSD)), alice(t), dcMode2, denyEvent(KDCErrCertificateMismatch, 41, PathSIDMismatch)},
		{"row 6/mode 1 on 2008 R2 logs 49", userCert(t, afterAcct, sidExt(t, otherSID)), alice(t), dc2008, denyEvent(KDCErrCertificateMismatch, 49, PathSIDMismatch)},
		// Row 7: SID malformed or duplicated.
		{"row 7/pre-KB", userCert(t, afterAcct, sidExtBad), alice(t), dcPreKB, allowQuiet(PathPreKB)},
		{"row 7/mode 1 malformed extension", userCert(t, afterAcct, sidExtBad), alice(t), dcMode1, want{kerr: KRBErrGeneric, path: PathSIDError}},
		{"row 7/mode 2 two SIDs", userCert(t, afterAcct, twoSIDs), alice(t), dcMode2, want{kerr: KRBErrGeneric, path: PathSIDError}},
		{"row 7/mode 2 duplicate SAN URL", withSAN(t, sanURL, sanURL), alice(t), dcMode2, want{kerr: KRBErrGeneric, path: PathSIDError}},
		// Row 8: weak, no SID, NotBefore + compensation >= whenCreated.
		{"row 8/pre-KB", userCert(t, afterAcct), alice(t), dcPreKB, allowQuiet(PathPreKB)},
		{"row 8/mode 1", userCert(t, afterAcct), alice(t), dcMode1, weak39W},
		{"row 8/mode 1 at the 600 s boundary", userCert(t, boundary), alice(t), dcMode1, weak39W},
		{"row 8/mode 2", userCert(t, afterAcct), alice(t), dcMode2, denyEvent(KDCErrCertificateMismatch, 39, PathWeak)},
		{"row 8/mode 1 on 2008 R2 logs 41", userCert(t, afterAcct), alice(t), dc2008, want{allowed: true, event: 41, level: LevelWarning, path: PathWeak}},
		// Row 9: weak, no SID, certificate predates the account.
		{"row 9/pre-KB", userCert(t, predates), alice(t), dcPreKB, allowQuiet(PathPreKB)},
		{"row 9/mode 1", userCert(t, predates), alice(t), dcMode1, denyEvent(KDCErrCertificateMismatch, 40, PathPredates)},
		{"row 9/mode 1 rescued by 1-year compensation", userCert(t, predates), alice(t),
			DCState{OS: OS2019, LastUpdate: date(2025, 6, 10), StrongCertificateBindingEnforcement: DWORD(1), CertificateBackdatingCompensation: DWORD(0x01E13380)}, weak39W},
		{"row 9/mode 2 logs 39", userCert(t, predates), alice(t), dcMode2, denyEvent(KDCErrCertificateMismatch, 39, PathWeak)},
		{"row 9/mode 1 on 2008 R2 logs 48", userCert(t, predates), alice(t), dc2008, denyEvent(KDCErrCertificateMismatch, 48, PathPredates)},
		// Row 10: SID only in a SAN URL on a DC without (or with uncertain) support.
		{"row 10/pre-KB", withSAN(t, sanURL), alice(t), dcPreKB, allowQuiet(PathPreKB)},
		{"row 10/mode 1 on 2016 as row 8", withSAN(t, sanURL), alice(t), dc2016m1,
			want{allowed: true, event: 39, level: LevelWarning, path: PathWeak, labels: []Label{LabelSANURLIgnored}}},
		{"row 10/mode 2 on 2016 as row 8", withSAN(t, sanURL), alice(t), dc2016m2,
			want{kerr: KDCErrCertificateMismatch, event: 39, level: LevelError, path: PathWeak, labels: []Label{LabelSANURLIgnored}}},
		{"row 10/mode 1 uncertain support keeps the worse", withSAN(t, sanURL), alice(t), dcUncertainM1,
			want{allowed: true, event: 39, level: LevelWarning, path: PathWeak, labels: []Label{LabelDependsOnSANURL}}},
		// Row 11: SAN URL with a non-canonical prefix.
		{"row 11/pre-KB", withSAN(t, uri("TAG:microsoft.com,2022-09-14:sid:"+contosoSID)), alice(t), dcSANYes(dcPreKB), allowQuiet(PathPreKB)},
		{"row 11/mode 1 as row 8", withSAN(t, uri("TAG:microsoft.com,2022-09-14:sid:"+contosoSID)), alice(t), dcMode1,
			want{allowed: true, event: 39, level: LevelWarning, path: PathWeak, labels: []Label{LabelSANURLNonCanonical}}},
		{"row 11/mode 2 as row 8", withSAN(t, uri("tag:microsoft.com, 2022-09-14:sid:"+contosoSID)), alice(t), dcMode2,
			want{kerr: KDCErrCertificateMismatch, event: 39, level: LevelError, path: PathWeak, labels: []Label{LabelSANURLNonCanonical}}},
		// Row 12: strong explicit match and a wrong SID extension.
		{"row 12/pre-KB", userCert(t, afterAcct, sidExt(t, otherSID)), strongAcct, dcPreKB, allowQuiet(PathPreKB)},
		{"row 12/mode 1", userCert(t, afterAcct, sidExt(t, otherSID)), strongAcct, dcMode1,
			want{allowed: true, path: PathStrongExplicit, labels: []Label{LabelWrongSIDIgnored}}},
		{"row 12/mode 2", userCert(t, afterAcct, sidExt(t, otherSID)), strongAcct, dcMode2,
			want{allowed: true, path: PathStrongExplicit, labels: []Label{LabelWrongSIDIgnored}}},
		// Row 13: no mapping at all.
		{"row 13/pre-KB", userCert(t, afterAcct), &Account{ObjectSID: mustSID(t, contosoSID), UserPrincipalName: "bob@contoso.com"}, dcPreKB, want{kerr: KDCErrClientNameMismatch, path: PathNoMapping}},
		{"row 13/mode 1", userCert(t, afterAcct), &Account{ObjectSID: mustSID(t, contosoSID), UserPrincipalName: "bob@contoso.com"}, dcMode1, want{kerr: KDCErrClientNameMismatch, path: PathNoMapping}},
		{"row 13/mode 2", userCert(t, afterAcct), &Account{ObjectSID: mustSID(t, contosoSID), UserPrincipalName: "bob@contoso.com"}, dcMode2, want{kerr: KDCErrClientNameMismatch, path: PathNoMapping}},
		{"row 13/mode 2 no account: 6", userCert(t, afterAcct), nil, dcMode2, want{kerr: KDCErrCPrincipalUnknown, path: PathNoMapping}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Decide(tt.cert, tt.acct, tt.dc)
			w := tt.want
			if v.Allowed != w.allowed || v.KerberosError != w.kerr || v.EventID != w.event || v.Level != w.level || v.Path != w.path {
				t.Errorf("got allowed=%v err=%s event=%d level=%s path=%q\nwant allowed=%v err=%s event=%d level=%s path=%q\nsteps:\n  %s",
					v.Allowed, v.KerberosError, v.EventID, v.Level, v.Path,
					w.allowed, w.kerr, w.event, w.level, w.path, strings.Join(v.Steps, "\n  "))
			}
			for _, l := range w.labels {
				if !slices.Contains(v.Labels, l) {
					t.Errorf("label %q missing from %q", l, v.Labels)
				}
			}
			if v.Reason == "" || len(v.Steps) == 0 {
				t.Error("verdict without reason or steps")
			}
			brief := DecideBrief(tt.cert, tt.acct, tt.dc)
			if brief.Steps != nil {
				t.Errorf("DecideBrief returned %d steps", len(brief.Steps))
			}
			v.Steps = nil
			if !reflect.DeepEqual(brief, v) {
				t.Errorf("DecideBrief = %+v\nDecide    = %+v", brief, v)
			}
		})
	}
}
