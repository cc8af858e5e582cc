package mapaudit

import (
	"testing"

	"github.com/tegata-project/tegata/mapping"
)

// TestCandidateFamilies checks that every candidate's value falls in the
// family of its type, so that find never skips a candidate a stored value
// could equal, including names that contain the markers themselves.
func TestCandidateFamilies(t *testing.T) {
	names := []string{"DC=com,DC=contoso,CN=CONTOSO-DC-CA", `CN="a<SR>ff"`, `CN="x<SID>S-1-5-18"`, `O="<S>",CN="b<"`, `CN="<SR>00"`, "CN=#0401AB"}
	for _, issuer := range names {
		for _, subject := range names {
			c := &mapping.Certificate{Issuer: issuer, Subject: subject, IssuerCertain: true, SubjectCertain: true,
				RawSerial: []byte{0, 0xAB, 0x01}, SubjectKeyID: []byte{0xFE}, RFC822Names: []string{"a<sr>b@c"},
				SIDExtension: mapping.SIDSource{State: mapping.SIDValid, Text: "S-1-5-21-1-2-3-1000"}}
			for _, cd := range mapping.Candidates(c) {
				if got, want := family(foldKey(nil, cd.Value)), familyOf(cd.Type); got != want {
					t.Errorf("%s %q: family %08b, want %08b", cd.Type, cd.Value, got, want)
				}
			}
		}
	}
	for _, v := range []string{"Kerberos:a@B", "X509:<I>a<SR>zz", "x509:<I>a<sid>b\"c", "  X509:<SKI>00"} {
		if f := family(foldKey(nil, v)); f == familyIssuerSerial || f == familyIssuerSID || f == familySKI {
			t.Errorf("%q: family %08b", v, f)
		}
	}
}
