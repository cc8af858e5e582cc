package certkit

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// rdnString renders a DER Name in encoding order, one "oid=tag:value"
// per attribute, "+" inside an RDN and " / " between RDNs.
func rdnString(t *testing.T, der []byte) string { return rdnRender(t, der, true) }

// rdnValues is rdnString without the string types, which FormatSubject
// does not keep.
func rdnValues(t *testing.T, der []byte) string { return rdnRender(t, der, false) }

func rdnRender(t *testing.T, der []byte, withTags bool) string {
	t.Helper()
	var seq rawRDNSequence
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) != 0 {
		t.Fatalf("not a DER Name: %v", err)
	}
	var rdns []string
	for _, set := range seq {
		var atvs []string
		for _, atv := range set {
			if withTags {
				atvs = append(atvs, fmt.Sprintf("%s=%d:%s", attrName(atv.Type), atv.Value.Tag, atv.Value.Bytes))
			} else {
				atvs = append(atvs, fmt.Sprintf("%s=%s", attrName(atv.Type), atv.Value.Bytes))
			}
		}
		rdns = append(rdns, strings.Join(atvs, "+"))
	}
	return strings.Join(rdns, " / ")
}

func TestParseSubject(t *testing.T) {
	const (
		pr  = asn1.TagPrintableString
		u8  = asn1.TagUTF8String
		ia5 = asn1.TagIA5String
	)
	tests := []struct {
		in   string
		want string // rdnString of the encoding, in encoding order
		cn   string
	}{
		{"CN=www.example.com", fmt.Sprintf("CN=%d:www.example.com", pr), "www.example.com"},
		{"cn=MyCert", fmt.Sprintf("CN=%d:MyCert", pr), "MyCert"},
		{"CN=a, O=Org, OU=Unit, L=City, ST=State, C=JP",
			fmt.Sprintf("C=%d:JP / ST=%d:State / L=%d:City / OU=%d:Unit / O=%d:Org / CN=%d:a", pr, pr, pr, pr, pr, pr), "a"},
		{"CN=a;O=b", fmt.Sprintf("O=%d:b / CN=%d:a", pr, pr), "a"},
		{"  CN = spaced value  ,  O = x ", fmt.Sprintf("O=%d:x / CN=%d:spaced value", pr, pr), "spaced value"},
		{`CN=Smith\, John, O=Org`, fmt.Sprintf("O=%d:Org / CN=%d:Smith, John", pr, pr), "Smith, John"},
		{`CN="Smith, John; Jr", O=Org`, fmt.Sprintf("O=%d:Org / CN=%d:Smith, John; Jr", pr, u8), "Smith, John; Jr"},
		{`CN="say ""hi"" \"now\""`, fmt.Sprintf(`CN=%d:say "hi" "now"`, u8), `say "hi" "now"`},
		{`CN=\ lead and trail\ `, fmt.Sprintf("CN=%d: lead and trail ", pr), " lead and trail "},
		{`CN=\E3\83\86\E3\82\B9\E3\83\88`, fmt.Sprintf("CN=%d:テスト", u8), "テスト"},
		{"CN=テスト, O=株式会社", fmt.Sprintf("O=%d:株式会社 / CN=%d:テスト", u8, u8), "テスト"},
		{"CN=a, E=admin@example.com", fmt.Sprintf("E=%d:admin@example.com / CN=%d:a", ia5, pr), "a"},
		{"emailAddress=x@example.com", fmt.Sprintf("E=%d:x@example.com", ia5), ""},
		{"CN=a+OU=b, DC=example, DC=com", fmt.Sprintf("DC=%d:com / DC=%d:example / CN=%d:a+OU=%d:b", ia5, ia5, pr, pr), "a"},
		{"OID.2.5.4.3=oid, 1.2.3.4=custom", fmt.Sprintf("1.2.3.4=%d:custom / CN=%d:oid", pr, pr), "oid"},
		{"CN=#0c03616263", fmt.Sprintf("CN=%d:abc", u8), ""},
		{"CN=a=b<c>*", fmt.Sprintf("CN=%d:a=b<c>*", u8), "a=b<c>*"},
		{"S=Tokyo, SERIALNUMBER=1234", fmt.Sprintf("SERIALNUMBER=%d:1234 / ST=%d:Tokyo", pr, pr), ""},
		{"", "", ""},
		{"   ", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			name, err := ParseSubject(tt.in)
			if err != nil {
				t.Fatalf("ParseSubject(%q) = %v", tt.in, err)
			}
			if name.CommonName != tt.cn {
				t.Errorf("CommonName = %q, want %q", name.CommonName, tt.cn)
			}
			der, err := subjectDER(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := rdnString(t, der); got != tt.want {
				t.Errorf("encoded = %q, want %q", got, tt.want)
			}
			// FormatSubject reads back to the same attributes and values.
			s, err := FormatSubject(der)
			if err != nil {
				t.Fatal(err)
			}
			der2, err := subjectDER(s)
			if err != nil {
				t.Fatalf("ParseSubject(FormatSubject) = %v for %q", err, s)
			}
			if rdnValues(t, der2) != rdnValues(t, der) {
				t.Errorf("FormatSubject = %q reads back as %q, want %q", s, rdnValues(t, der2), rdnValues(t, der))
			}
		})
	}
}

func TestParseSubjectFields(t *testing.T) {
	name, err := ParseSubject("CN=a, O=Org, OU=Unit, L=City, ST=State, C=JP, E=x@example.com")
	if err != nil {
		t.Fatal(err)
	}
	got := pkix.Name{CommonName: name.CommonName, Organization: name.Organization, OrganizationalUnit: name.OrganizationalUnit,
		Locality: name.Locality, Province: name.Province, Country: name.Country}
	want := pkix.Name{CommonName: "a", Organization: []string{"Org"}, OrganizationalUnit: []string{"Unit"},
		Locality: []string{"City"}, Province: []string{"State"}, Country: []string{"JP"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Name = %+v, want %+v", got, want)
	}
	if len(name.Names) != 7 || !name.Names[0].Type.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}) {
		t.Errorf("Names = %v, want 7 attributes starting with emailAddress", name.Names)
	}
}

func TestParseSubjectErrors(t *testing.T) {
	tests := []struct {
		in  string
		is  error
		msg string
	}{
		{"CN", ErrBadSubject, "expected TYPE=value"},
		{"www.example.com", ErrBadSubject, "expected TYPE=value"},
		{"CN=", ErrBadSubject, "empty value"},
		{"CN=a,", ErrBadSubject, "expected TYPE=value"},
		{"CN=a,,O=b", ErrBadSubject, "expected TYPE=value"},
		{"=a", ErrBadSubject, "unknown attribute type"},
		{"XX=a", ErrBadSubject, "unknown attribute type"},
		{"OID.x=a", ErrBadSubject, "unknown attribute type"},
		{"1.99.3=a", ErrBadSubject, "unknown attribute type"},
		{`CN="open`, ErrBadSubject, "unterminated"},
		{`CN="a" b`, ErrBadSubject, "after the quoted value"},
		{`CN=a\`, ErrBadSubject, "backslash"},
		{`CN=a\q`, ErrBadSubject, "unknown escape"},
		{`CN=\FF`, ErrBadSubject, "UTF-8"},
		{"C=JPN", ErrBadSubject, "two-letter"},
		{"C=J", ErrBadSubject, "two-letter"},
		{"E=ü@example.com", ErrBadSubject, "ASCII"},
		{"SERIALNUMBER=a_b", ErrBadSubject, "only letters"},
		{"CN=#0c", ErrBadSubject, "#hex"},
		{"CN=#0c0361626364", ErrBadSubject, "#hex"},
		{"CN=#zz", ErrBadSubject, "#hex"},
		{"CN=\xff", ErrBadSubject, "UTF-8"},
		{"CN=" + strings.Repeat("a", MaxSubjectLength-2), ErrTooLarge, "1024"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseSubject(tt.in)
			if err == nil {
				t.Fatalf("ParseSubject(%q) = nil error", tt.in)
			}
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ParseSubject(%q) = %v, want %v mentioning %q", tt.in, err, tt.is, tt.msg)
			}
		})
	}
	if _, err := ParseSubject("CN=" + strings.Repeat("a", MaxSubjectLength-3)); err != nil {
		t.Errorf("a subject of exactly %d bytes: %v", MaxSubjectLength, err)
	}
}

func TestFormatSubjectEscapes(t *testing.T) {
	der, err := asn1.Marshal(pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "#1 Corp, \"Ltd\"; <x>+y\\ "}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: " a\x01"}},
		{{Type: asn1.ObjectIdentifier{1, 2, 3}, Value: 5}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := FormatSubject(der)
	if err != nil {
		t.Fatal(err)
	}
	const want = `1.2.3=#020105, CN=\ a\01, O=\#1 Corp\, \"Ltd\"\; \<x\>\+y\\\ `
	if got != want {
		t.Errorf("FormatSubject = %q, want %q", got, want)
	}
	der2, err := subjectDER(got)
	if err != nil {
		t.Fatal(err)
	}
	if rdnString(t, der2) != rdnString(t, der) {
		t.Errorf("round trip = %q, want %q", rdnString(t, der2), rdnString(t, der))
	}
	if _, err := FormatSubject([]byte{0x30, 0x03}); !errors.Is(err, ErrBadSubject) {
		t.Errorf("FormatSubject(truncated) = %v, want ErrBadSubject", err)
	}
}
