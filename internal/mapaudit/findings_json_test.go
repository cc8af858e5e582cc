package mapaudit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/mapping"
)

// checkFindingJSON fails t unless f.AppendJSON writes what json.Marshal
// writes for f.
func checkFindingJSON(t testing.TB, name string, f *Finding) {
	t.Helper()
	want, err := json.Marshal(f)
	if err != nil {
		t.Fatalf("%s: json.Marshal: %v", name, err)
	}
	prefix := []byte("prefix,")
	got := f.AppendJSON(bytes.Clone(prefix))
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("%s: AppendJSON lost what dst held", name)
	}
	if got = got[len(prefix):]; !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		from := max(i-60, 0)
		t.Fatalf("%s: AppendJSON differs from json.Marshal at byte %d\n got: …%s\nwant: …%s", name, i, got[from:min(i+60, len(got))], want[from:min(i+60, len(want))])
	}
}

func TestFindingJSONCorp(t *testing.T) {
	_, all, _, _, _ := auditCorp(t)
	if len(all) == 0 {
		t.Fatal("no findings")
	}
	for _, f := range all {
		checkFindingJSON(t, f.Certificate.Origin, f)
	}
}

func TestFindingJSONSynthetic(t *testing.T) {
	c, err := NewSyntheticCorpus(400)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := ReadLDIFDirectory(bytes.NewReader(c.LDIF), "directory.ldf")
	if err != nil || len(dir.Problems) > 0 {
		t.Fatalf("directory: %v %v", err, dir.Problems)
	}
	dcs, _ := ResolveDCs(dir.DomainControllers, nil, nil, benchAsOf)
	var ins []CertificateInput
	for _, der := range c.Certificates[:400] {
		cert, err := mapping.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, CertificateInput{Cert: cert, Origin: "synthetic"})
	}
	a := NewAuditor(dir, Options{AsOf: benchAsOf, DCs: dcs})
	n := 0
	// The finding is not used after emit returns: compare it there.
	probs := a.Run(ins, func(f *Finding) {
		n++
		checkFindingJSON(t, f.Certificate.Subject, f)
	})
	if len(probs) > 0 || n != 400 {
		t.Fatalf("%d findings, problems %v", n, probs)
	}
}

// jsonTestFinding returns a finding with every field set.
func jsonTestFinding() *Finding {
	created := time.Date(2024, 1, 15, 9, 30, 12, 0, time.UTC)
	brief := Brief{
		Outcome: OutcomeLogged, KerberosError: "KDC_ERR_CERTIFICATE_MISMATCH", EventID: 39, Level: "Error",
		Mode: "Compatibility", Path: "implicit", Mapping: "explicit", MappingType: "X509IssuerSerialNumber",
		MappingValue: "X509:<I>DC=com,DC=contoso,CN=CONTOSO-CA<SR>1200000000abcdef", Strength: "weak",
		Reason: "the mapping is weak", Labels: []mapping.Label{mapping.LabelSerialSignByte, mapping.LabelNTAuthNotEvaluated},
	}
	return &Finding{
		Certificate: CertificateSummary{
			Origin: "certs/alice.pem", Subject: "CN=alice,OU=Users,DC=contoso,DC=com", Issuer: "CN=CONTOSO-CA,DC=contoso,DC=com",
			Serial: "1200000000ABCDEF", Thumbprint: "0123456789ABCDEF0123456789ABCDEF01234567",
			NotBefore: time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC), NotAfter: time.Date(2026, 3, 3, 8, 0, 0, 123456789, time.UTC),
			Requester: `CONTOSO\alice`, UPNs: []string{"alice@contoso.com"}, DNSNames: []string{"ws01.contoso.com", "ws01"},
			SID: "S-1-5-21-3623811015-3361044348-30300820-1013", SIDSource: "SID extension", SIDState: "present", NTAuth: "yes",
		},
		Account: &AccountSummary{
			DN: "CN=alice,OU=Users,DC=contoso,DC=com", SID: "S-1-5-21-3623811015-3361044348-30300820-1013",
			SAMAccountName: "alice", UserPrincipalName: "alice@contoso.com", DNSHostName: "alice.contoso.com",
			Class: "user", Disabled: true, WhenCreated: &created, Origin: "corp.ldf:120",
		},
		FoundBy: []string{"UPN", "altSecurityIdentities"},
		Outcome: OutcomeDenied, Worst: brief, WorstDC: "dc1.contoso.com", Compatibility: OutcomeLogged,
		DCs: []DCResult{
			{DC: "dc1.contoso.com", Today: brief, Compatibility: brief, Changes: []Change{
				{Date: "2025-02-11", Outcome: OutcomeLogged, Path: "implicit", EventID: 39},
				{Date: "2026-09-09", Outcome: OutcomeDenied, Path: "implicit", Future: true},
			}},
			{DC: "dc2.contoso.com", Today: Brief{Outcome: OutcomeAllowed, Mode: "Full Enforcement", Path: "explicit", Strength: "strong", Reason: "ok"}},
		},
		Values:   []StoredValue{{Value: "X509:<RFC822>alice@contoso.com", Class: "weak", Type: "RFC822"}, {Value: "junk", Class: "unparsed"}},
		Warnings: []string{"the account is disabled"},
		Fixes: []Fix{
			{DN: "CN=alice,OU=Users,DC=contoso,DC=com", SID: "S-1-5-21-1", Class: mapping.ClassUser, Value: "X509:<I>CN=CA<SR>01", Certificate: "certs/alice.pem", Reason: "weak"},
			{DN: "CN=WS01,DC=contoso,DC=com", Class: mapping.ClassComputer, Value: "X509:<SKI>ab", Reason: "weak"},
			{DN: "CN=odd", Class: mapping.AccountClass(9)},
		},
		Advice: []string{"add a strong mapping", "then enable Full Enforcement"},
	}
}

// jsonTestStrings are strings that exercise every escaping rule.
var jsonTestStrings = func() []string {
	var ctl, all strings.Builder
	for b := 0; b < 0x20; b++ {
		ctl.WriteByte(byte(b))
	}
	ctl.WriteByte(0x7f)
	for b := 0; b < 256; b++ {
		all.WriteByte(byte(b))
	}
	return []string{
		"", "plain ascii", `"quoted" and \back\slash\`, `<script>alert(1)&amp;</script>`, ctl.String(), all.String(),
		"line\u2028para\u2029end", "\u2028", "\xff\xfe invalid", "tail\xc3", "\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 too big",
		"héllo 日本語 ünïcödé", "emoji 😀👍🏽‍", "\u00e9\u2027\u202a\ufeff\ufffd", "a\"b<c>d&e\\f\ng\u2028h\x01i\xffj",
	}
}()

func TestFindingJSONHandBuilt(t *testing.T) {
	checkFindingJSON(t, "nil finding", nil)
	checkFindingJSON(t, "zero finding", &Finding{})
	checkFindingJSON(t, "full", jsonTestFinding())

	cases := map[string]func(f *Finding){
		"account nil":     func(f *Finding) { f.Account = nil },
		"whenCreated nil": func(f *Finding) { f.Account.WhenCreated = nil; f.Account.Disabled = false },
		"account zero":    func(f *Finding) { f.Account = &AccountSummary{} },
		"empty slices": func(f *Finding) {
			f.FoundBy, f.Values, f.Warnings, f.Fixes, f.Advice, f.DCs = []string{}, []StoredValue{}, []string{}, []Fix{}, []string{}, []DCResult{}
		},
		"nil slices": func(f *Finding) {
			f.FoundBy, f.Values, f.Warnings, f.Fixes, f.Advice, f.DCs = nil, nil, nil, nil, nil, nil
		},
		"cert slices empty":  func(f *Finding) { f.Certificate.UPNs, f.Certificate.DNSNames = []string{}, nil },
		"cert optional off":  func(f *Finding) { f.Certificate.Requester, f.Certificate.SID, f.Certificate.SIDSource = "", "", "" },
		"zero times":         func(f *Finding) { f.Certificate.NotBefore, f.Certificate.NotAfter = time.Time{}, time.Time{} },
		"brief optional off": func(f *Finding) { f.Worst = Brief{Outcome: OutcomeAllowed, Labels: []mapping.Label{}} },
		"changes empty":      func(f *Finding) { f.DCs[0].Changes = []Change{}; f.DCs[1].Today.Labels = nil },
		"empty strings in slices": func(f *Finding) {
			f.FoundBy, f.Advice, f.Worst.Labels = []string{""}, []string{"", ""}, []mapping.Label{""}
		},
		"times in zones": func(f *Finding) {
			loc, err := time.LoadLocation("America/New_York")
			if err != nil {
				loc = time.FixedZone("EST", -5*3600)
			}
			f.Certificate.NotBefore = time.Date(2025, 7, 1, 23, 59, 59, 100, loc)
			f.Certificate.NotAfter = time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("odd", 5*3600+30*60+15))
			now := time.Now() // with a monotonic reading
			f.Account.WhenCreated = &now
		},
		"year bounds": func(f *Finding) {
			f.Certificate.NotBefore = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
			f.Certificate.NotAfter = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", -(23*3600+59*60)))
		},
	}
	for name, mutate := range cases {
		f := jsonTestFinding()
		mutate(f)
		checkFindingJSON(t, name, f)
	}
	for i, s := range jsonTestStrings {
		f := jsonFuzzFinding(s, jsonTestStrings[(i+1)%len(jsonTestStrings)], s+s, i*1000-3, i%2 == 0)
		checkFindingJSON(t, "strings "+jsonTestStrings[i], f)
	}
}

// TestAppendJSONString puts each byte, and each rune that needs care, at each
// offset of a string long enough for the eight-byte fast path.
func TestAppendJSONString(t *testing.T) {
	var specials []string
	for b := 0; b < 256; b++ {
		specials = append(specials, string([]byte{byte(b)}))
	}
	specials = append(specials, "\u2028", "\u2029", "é", "😀", "\xed\xa0\x80", "\xc3")
	pad := strings.Repeat("abcdefgh", 3)
	for _, sp := range specials {
		for at := 0; at <= 17; at++ {
			s := pad[:at] + sp + pad[at:]
			if got, want := appendJSONString(nil, s), mustMarshal(t, s); !bytes.Equal(got, want) {
				t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
			}
		}
	}
}

// TestFindingJSONBadTime documents what AppendJSON writes for a time that
// json.Marshal refuses.
func TestFindingJSONBadTime(t *testing.T) {
	f := jsonTestFinding()
	f.Certificate.NotAfter = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := json.Marshal(f); err == nil {
		t.Fatal("json.Marshal accepted year 10000")
	}
	if got := f.AppendJSON(nil); !bytes.Contains(got, []byte(`"notAfter":"10000-01-01T00:00:00Z"`)) || !json.Valid(got) {
		t.Fatalf("AppendJSON wrote %s", got)
	}
}

// jsonFuzzFinding puts a, b and c into several fields of a full finding.
func jsonFuzzFinding(a, b, c string, n int, flag bool) *Finding {
	f := jsonTestFinding()
	f.Certificate.Subject, f.Certificate.Requester, f.Certificate.UPNs = a, b, []string{c, a}
	f.Worst.Reason, f.Worst.Labels, f.Worst.EventID = b, []mapping.Label{mapping.Label(c)}, n
	f.WorstDC, f.Compatibility, f.Outcome = c, Outcome(a), Outcome(b)
	f.DCs[0].Changes[0].Date, f.DCs[0].Changes[0].EventID, f.DCs[0].Changes[1].Future = a, n, flag
	f.DCs[1].Today.Path, f.DCs[1].Today.MappingValue = mapping.Path(b), c
	f.Values[1].Type, f.Warnings, f.Advice = a, []string{b}, []string{c, b, a}
	f.Fixes[0].Value, f.Fixes[1].SID, f.Fixes[2].Reason = a, b, c
	if flag {
		f.Account.DN, f.Account.SAMAccountName, f.Account.Disabled = a, c, false
	} else {
		f.Account = nil
	}
	return f
}

func FuzzFindingJSON(f *testing.F) {
	for i, s := range jsonTestStrings {
		f.Add(s, jsonTestStrings[(i+3)%len(jsonTestStrings)], "", i, i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, a, b, c string, n int, flag bool) {
		checkFindingJSON(t, "fuzz", jsonFuzzFinding(a, b, c, n, flag))
		s := []byte(a + b + c)
		if got, want := appendJSONString(nil, string(s)), mustMarshal(t, string(s)); !bytes.Equal(got, want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkFindingJSON writes a finding of two DCs with fixes, as the audit
// report does for each weak pair.
func BenchmarkFindingJSON(b *testing.B) {
	f := jsonTestFinding()
	f.Fixes = f.Fixes[:2] // not AccountClass(9), whose String allocates
	b.Run("append", func(b *testing.B) {
		buf := f.AppendJSON(nil)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = f.AppendJSON(buf[:0])
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(f.AppendJSON(nil))))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(f); err != nil {
				b.Fatal(err)
			}
		}
	})
}
