package mapping

import (
	"crypto/x509/pkix"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

// checkCandidates compares Candidates with candidatesReference.
func checkCandidates(t testing.TB, c *Certificate) {
	t.Helper()
	if got, want := Candidates(c), candidatesReference(c); !reflect.DeepEqual(got, want) {
		t.Fatalf("Candidates:\n got %q\nwant %q", got, want)
	}
}

func TestCandidatesMatchReference(t *testing.T) {
	for _, spec := range []certSpec{
		{},
		{serial: []byte{0, 0x8F}, exts: []pkix.Extension{
			san(t, upn("alice@contoso.com"), dns("a.b"), email("a@b"), email("c@d"), uri(SANURLPrefix+contosoSID)),
			sidExt(t, contosoSID), skiExt(t, []byte{1, 0xAB})}},
		{issuer: name(t, rdn(u8(oidCN, "a, b")), rdn(atv{oidCN, 0x1E, []byte{0, 'A'}})), exts: []pkix.Extension{sidExt(t, contosoSID)}},
	} {
		c := parse(t, spec)
		checkCandidates(t, c)
		c.IssuerCertain = false
		checkCandidates(t, c)
	}
}

// candidatesReference is the straightforward form of Candidates, kept to
// check the one-buffer version against.
func candidatesReference(cert *Certificate) []Candidate {
	var out []Candidate
	var nameLabels []Label
	if !cert.IssuerCertain || !cert.SubjectCertain {
		nameLabels = []Label{LabelNameRenderingUnconfirmed}
	}
	sr := ReversedSerial(cert.RawSerial)
	out = append(out, Candidate{X509IssuerSerialNumber, "X509:<I>" + cert.Issuer + "<SR>" + sr, nameLabels})
	if len(cert.RawSerial) > 1 && cert.RawSerial[0] == 0 {
		out = append(out, Candidate{X509IssuerSerialNumber, "X509:<I>" + cert.Issuer + "<SR>" + sr[:len(sr)-2],
			append([]Label{LabelSerialSignByte}, nameLabels...)})
	}
	if len(cert.SubjectKeyID) > 0 {
		out = append(out, Candidate{X509SKI, "X509:<SKI>" + strings.ToUpper(hex.EncodeToString(cert.SubjectKeyID)), nil})
	}
	for _, h := range []struct {
		sum   [20]byte
		label Label
	}{
		{cert.KeyHashes.Thumbprint, LabelSHA1Thumbprint},
		{cert.KeyHashes.SPKI, LabelSHA1SPKI},
		{cert.KeyHashes.SubjectPublicKey, LabelSHA1SubjectPublicKey},
	} {
		out = append(out, Candidate{X509SHA1PublicKey, "X509:<SHA1-PUKEY>" + strings.ToUpper(hex.EncodeToString(h.sum[:])), []Label{h.label}})
	}
	out = append(out,
		Candidate{X509IssuerSubject, "X509:<I>" + cert.Issuer + "<S>" + cert.Subject, nameLabels},
		Candidate{X509SubjectOnly, "X509:<S>" + cert.Subject, nameLabels},
		Candidate{X509NSubjectOnly, "X509N:<S>" + cert.Subject, append([]Label{LabelX509NUnconfirmed}, nameLabels...)},
	)
	for _, e := range cert.RFC822Names {
		out = append(out, Candidate{X509RFC822, "X509:<RFC822>" + e, nil})
	}
	if cert.SIDExtension.State == SIDValid {
		out = append(out, Candidate{X509IssuerSID, "X509:<I>" + cert.Issuer + "<SID>" + cert.SIDExtension.Text,
			append([]Label{LabelIssuerSIDUnconfirmed}, nameLabels...)})
	}
	return out
}

func TestEachCandidateMatchesCandidates(t *testing.T) {
	var b CandidateBuffer
	for _, spec := range []certSpec{{}, {serial: []byte{0, 0x8F}, exts: []pkix.Extension{
		san(t, email("a@b"), email("c@d")), sidExt(t, contosoSID), skiExt(t, []byte{1, 0xAB})}}} {
		c := parse(t, spec)
		want := Candidates(c)
		var got []Candidate
		c.EachCandidate(&b, nil, func(ty MappingType, v []byte) { got = append(got, Candidate{Type: ty, Value: string(v)}) })
		if len(got) != len(want) {
			t.Fatalf("%d candidates, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i].Type != want[i].Type || got[i].Value != want[i].Value {
				t.Errorf("candidate %d: %v %q, want %v %q", i, got[i].Type, got[i].Value, want[i].Type, want[i].Value)
			}
		}
		var only []MappingType
		c.EachCandidate(&b, func(ty MappingType) bool { return ty == X509SKI || ty == X509IssuerSID }, func(ty MappingType, _ []byte) { only = append(only, ty) })
		var wantOnly []MappingType
		for _, cd := range want {
			if cd.Type == X509SKI || cd.Type == X509IssuerSID {
				wantOnly = append(wantOnly, cd.Type)
			}
		}
		if !reflect.DeepEqual(only, wantOnly) {
			t.Errorf("filtered: %v, want %v", only, wantOnly)
		}
	}
}
