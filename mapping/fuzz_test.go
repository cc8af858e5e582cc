package mapping

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"
	"time"
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
			checkCandidates(t, c)
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

// FuzzRenderNameDirect checks that the direct renderer agrees with
// ParseName followed by Name.Render, errors included.
func FuzzRenderNameDirect(f *testing.F) {
	for _, tt := range renderNameSeeds(f) {
		f.Add(tt)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		got, gotCertain, gotErr := RenderName(der)
		n, wantErr := ParseName(der)
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("% X: direct error %v, ParseName error %v", der, gotErr, wantErr)
		}
		if wantErr != nil {
			return
		}
		want, wantCertain := n.Render()
		if got != want || gotCertain != wantCertain {
			t.Fatalf("% X: direct %q (%v), Render %q (%v)", der, got, gotCertain, want, wantCertain)
		}
	})
}

// FuzzZuluTime checks the fast validity-time reader against encoding/asn1.
func FuzzZuluTime(f *testing.F) {
	for _, s := range []string{"250101000000Z", "491231235959Z", "500101000000Z", "20250230000000Z", "99991231235959Z", "250431120000Z", "251301000000Z"} {
		f.Add(s, len(s) == 15)
	}
	f.Fuzz(func(t *testing.T, s string, generalized bool) {
		tag := byte(tagUTCTime)
		if generalized {
			tag = tagGenTime
		}
		got, ok := parseZuluTime(tag, []byte(s))
		if !ok {
			return
		}
		var want time.Time
		full := append([]byte{tag, byte(len(s))}, s...)
		if _, err := asn1.Unmarshal(full, &want); err != nil || !want.Equal(got) || got.Location() != time.UTC {
			t.Fatalf("%q: fast %v, encoding/asn1 %v (%v)", s, got, want, err)
		}
	})
}

// FuzzCalendarDigits checks the GeneralizedTime date reader against
// time.Parse.
func FuzzCalendarDigits(f *testing.F) {
	for _, s := range []string{"20240115093012", "20240230000000", "20241301000000", "20240101240000", "20240101000060", "00000101000000", "2024011509301x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) != 14 {
			return
		}
		got, ok := parseCalendarDigits(s)
		want, err := time.Parse("20060102150405", s)
		if ok != (err == nil) || ok && !got.Equal(want) {
			t.Fatalf("%q: direct %v %v, time.Parse %v %v", s, got, ok, want, err)
		}
	})
}
