package mapaudit

import (
	"slices"
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

func TestPostings(t *testing.T) {
	p := newPostings[string](0)
	p.add("a", 1)
	p.add("a", 1) // the same account again: no-op
	p.add("b", 2)
	p.add("b", 3)
	p.add("b", 3)
	p.add("b", 4)
	var one [1]int32
	if got := p.get("a", &one); !slices.Equal(got, []int32{1}) {
		t.Errorf("a: %v", got)
	}
	if got := p.get("b", &one); !slices.Equal(got, []int32{2, 3, 4}) {
		t.Errorf("b: %v", got)
	}
	if got := p.get("c", &one); got != nil {
		t.Errorf("c: %v", got)
	}
	var shared []string
	p.shared(func(k string, l []int32) { shared = append(shared, k) })
	if !slices.Equal(shared, []string{"b"}) {
		t.Errorf("shared keys %v", shared)
	}
	var empty postings[string]
	if empty.get("a", &one) != nil {
		t.Error("the zero postings found a key")
	}
}
