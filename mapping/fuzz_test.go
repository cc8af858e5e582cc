package mapping

import (
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"
)

func FuzzParseCertificate(f *testing.F) {
	f.Add(build(f, certSpec{}))
	f.Add(build(f, certSpec{serial: []byte{0, 0x8F}, exts: []pkix.Extension{
		san(f, upn("alice@contoso.com"), dns("a.b"), email("a@b"), uri(SANURLPrefix+contosoSID)),
		sidExt(f, contosoSID), sidExt(f, "S-1-5-18"), skiExt(f, []byte{1}), policyExt(f, oidCN)}}))
	f.Add([]byte{0x30, 0x03, 0x30, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		certs, err := ParseCertificates(der)
		if err != nil {
			if !errors.Is(err, ErrMalformedCertificate) {
				t.Fatalf("error does not wrap ErrMalformedCertificate: %v", err)
			}
			return
		}
		for _, c := range certs {
			// Everything downstream of a parsed certificate must not panic.
			_ = Candidates(c)
			_ = StrongMappings(c)
			v := Decide(c, alice(t, "X509:<SKI>00"), dcMode1)
			if v.Reason == "" {
				t.Fatal("verdict without reason")
			}
		}
	})
}

func FuzzParseAltSecID(f *testing.F) {
	for _, s := range []string{
		"X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SR>1200000000AC11000000002B",
		`X509:<I>O="a<S>b"<S>CN=x`, "X509:<SKI>AB", "X509N:<S>CN=a", "Kerberos:a@B",
		"X509:<SHA1-PUKEY>0123456789abcdef0123456789ABCDEF01234567", "X509:<I>a<SID>S-1-5-18", "X509:<RFC822>a@b",
	} {
		f.Add(s)
	}
	c := parse(f, certSpec{})
	cands := Candidates(c)
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAltSecID(s)
		_ = ClassifyValue(c, cands, s)
		if err != nil {
			if !errors.Is(err, ErrMalformedAltSecID) {
				t.Fatalf("error does not wrap ErrMalformedAltSecID: %v", err)
			}
			return
		}
		again, err := ParseAltSecID(a.String())
		if err != nil || again.Type != a.Type || !strings.EqualFold(again.String(), a.String()) {
			t.Fatalf("round trip of %q: %+v %v", s, again, err)
		}
	})
}

func FuzzParseSID(f *testing.F) {
	f.Add(contosoSID, mustHex(f, "010500000000000515000000C7F7FED77C7755C8945ACE01F5030000"))
	f.Add("s-1-0x1234567890AB-1", []byte{1, 0, 0, 0, 0, 0, 0, 5})
	f.Add("DA", []byte{})
	f.Fuzz(func(t *testing.T, s string, b []byte) {
		if sid, err := ParseSID(s); err == nil {
			again, err := ParseSID(sid.String())
			if err != nil || !again.Equal(sid) {
				t.Fatalf("string round trip of %q: %v %v", s, again, err)
			}
			bin, err := ParseBinarySID(sid.Bytes())
			if err != nil || !bin.Equal(sid) {
				t.Fatalf("binary round trip of %q: %v", s, err)
			}
		} else if !errors.Is(err, ErrMalformedSID) {
			t.Fatalf("error does not wrap ErrMalformedSID: %v", err)
		}
		_, _, _ = ParseSIDText(s, mustSID(t, "S-1-5-21-1-2-3"))
		if sid, err := ParseBinarySID(b); err == nil {
			if string(sid.Bytes()) != string(b) {
				t.Fatalf("binary SID %X re-encodes as %X", b, sid.Bytes())
			}
		}
		_ = parseSIDExtensionValue(b)
		_, _, _ = RenderName(b)
	})
}
