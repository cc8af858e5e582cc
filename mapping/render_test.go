package mapping

import (
	"crypto/x509/pkix"
	"errors"
	"testing"
)

// TestWorkedExamples checks reference 3.6 byte for byte.
func TestWorkedExamples(t *testing.T) {
	// Example 1: AD CS issuer, KB serial 2B0000000011AC0000000012.
	c1 := parse(t, certSpec{})
	if got, err := Render(c1, X509IssuerSerialNumber); err != nil || got != "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SR>1200000000AC11000000002B" {
		t.Errorf("example 1: %q %v", got, err)
	}
	// Example 2: quoting, S=, serial with a sign byte (kept, Q2).
	c2 := parse(t, certSpec{
		issuer: name(t, rdn(ps(oidC, "JP")), rdn(u8(oidST, "Tokyo")), rdn(u8(oidO, "Example, Inc.")), rdn(u8(oidCN, "Example Issuing CA G2"))),
		serial: mustHex(t, "008F112233"),
	})
	if got, err := Render(c2, X509IssuerSerialNumber); err != nil || got != `X509:<I>C=JP,S=Tokyo,O="Example, Inc.",CN=Example Issuing CA G2<SR>3322118F00` {
		t.Errorf("example 2: %q %v", got, err)
	}
	// Example 3: SKI.
	c3 := parse(t, certSpec{exts: append([]pkix.Extension(nil), skiExt(t, mustHex(t, "B0 45 16 B5 4F 1F 3E EA B3 7D E6 FC 0F 37 7F 9B 91 72 50 41")))})
	if got, err := Render(c3, X509SKI); err != nil || got != "X509:<SKI>B04516B54F1F3EEAB37DE6FC0F377F9B91725041" {
		t.Errorf("example 3: %q %v", got, err)
	}
	// Examples 4 (issuer+subject), 5 (RFC822) and 6 (issuer+SID) are
	// recognised, never emitted: they appear among the candidates.
	c4 := parse(t, certSpec{exts: append([]pkix.Extension(nil), san(t, email("alice@contoso.com")), sidExt(t, contosoSID))})
	want := map[MappingType]string{
		X509IssuerSubject: "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<S>DC=com,DC=contoso,CN=Users,CN=Alice Smith",
		X509RFC822:        "X509:<RFC822>alice@contoso.com",
		X509IssuerSID:     "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SID>" + contosoSID,
	}
	for _, c := range Candidates(c4) {
		if w, ok := want[c.Type]; ok && c.Value == w {
			delete(want, c.Type)
		}
	}
	for typ, w := range want {
		t.Errorf("candidate %s %q missing", typ, w)
	}
	for _, typ := range []MappingType{X509IssuerSubject, X509RFC822, X509IssuerSID, X509SubjectOnly, X509SHA1PublicKey, X509NSubjectOnly} {
		if _, err := Render(c4, typ); !errors.Is(err, ErrNotEmitted) {
			t.Errorf("Render(%s) err = %v, want ErrNotEmitted", typ, err)
		}
	}
}

func TestReversedSerial(t *testing.T) {
	for in, want := range map[string]string{
		"A1B2C3":                   "C3B2A1",
		"2B0000000011AC0000000012": "1200000000AC11000000002B",
		"008F112233":               "3322118F00",
		"01":                       "01",
	} {
		if got := ReversedSerial(mustHex(t, in)); got != want {
			t.Errorf("ReversedSerial(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestRenderRefusals(t *testing.T) {
	c := parse(t, certSpec{issuer: name(t, rdn(atv{oidCN, 30, []byte{0, 'A'}}))})
	if _, err := Render(c, X509IssuerSerialNumber); !errors.Is(err, ErrUnrenderableName) {
		t.Errorf("BMPString issuer: err = %v, want ErrUnrenderableName", err)
	}
	if _, err := Render(c, X509SKI); !errors.Is(err, ErrNoSKI) {
		t.Errorf("no SKI: err = %v, want ErrNoSKI", err)
	}
	if got := StrongMappings(c); len(got) != 0 {
		t.Errorf("StrongMappings = %q, want none", got)
	}
	ok := parse(t, certSpec{exts: []pkix.Extension{skiExt(t, []byte{1, 2})}})
	got := StrongMappings(ok)
	if len(got) != 2 || got[0] != "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SR>1200000000AC11000000002B" || got[1] != "X509:<SKI>0102" {
		t.Errorf("StrongMappings = %q", got)
	}
}

func TestCandidatesSignByteVariant(t *testing.T) {
	c := parse(t, certSpec{serial: mustHex(t, "008F112233")})
	var full, short bool
	for _, cand := range Candidates(c) {
		switch cand.Value {
		case "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SR>3322118F00":
			full = len(cand.Labels) == 0
		case "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SR>3322118F":
			short = len(cand.Labels) == 1 && cand.Labels[0] == LabelSerialSignByte
		}
	}
	if !full || !short {
		t.Errorf("sign-byte candidates: full=%v short(labelled)=%v", full, short)
	}
}
