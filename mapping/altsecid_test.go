package mapping

import (
	"errors"
	"testing"
)

func TestParseAltSecID(t *testing.T) {
	tests := []struct {
		in       string
		typ      MappingType
		strength Strength
		check    func(AltSecID) bool
	}{
		{"X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SR>1200000000AC11000000002B", X509IssuerSerialNumber, Strong,
			func(a AltSecID) bool {
				return a.Issuer == "DC=com,DC=contoso,CN=CONTOSO-DC-CA" && a.Serial == "1200000000AC11000000002B"
			}},
		{"x509:<i>DC=com<sr>12ab", X509IssuerSerialNumber, Strong, func(a AltSecID) bool { return a.Issuer == "DC=com" && a.Serial == "12ab" }},
		{"X509:<SKI>B04516B54F1F3EEAB37DE6FC0F377F9B91725041", X509SKI, Strong, func(a AltSecID) bool { return a.KeyID == "B04516B54F1F3EEAB37DE6FC0F377F9B91725041" }},
		{"X509:<SHA1-PUKEY>" + "0123456789abcdef0123456789ABCDEF01234567", X509SHA1PublicKey, Strong, nil},
		{"X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<S>DC=com,DC=contoso,CN=Users,CN=Alice Smith", X509IssuerSubject, Weak,
			func(a AltSecID) bool { return a.Subject == "DC=com,DC=contoso,CN=Users,CN=Alice Smith" }},
		{`X509:<I>CN="a<S>b"<S>CN=x`, X509IssuerSubject, Weak, func(a AltSecID) bool { return a.Issuer == `CN="a<S>b"` && a.Subject == "CN=x" }},
		{"X509:<S>CN=Alice", X509SubjectOnly, Weak, func(a AltSecID) bool { return a.Subject == "CN=Alice" }},
		{"X509:<RFC822>alice@contoso.com", X509RFC822, Weak, func(a AltSecID) bool { return a.RFC822 == "alice@contoso.com" }},
		{"X509N:<S>CN=Alice", X509NSubjectOnly, Weak, nil},
		{"X509:<I>DC=com<SID>" + contosoSID, X509IssuerSID, Weak, func(a AltSecID) bool { return a.SID == contosoSID }},
		{"Kerberos:alice@MIT.EXAMPLE", KerberosPrincipal, StrengthNone, func(a AltSecID) bool { return a.Principal == "alice@MIT.EXAMPLE" }},
	}
	for _, tt := range tests {
		a, err := ParseAltSecID(tt.in)
		if err != nil {
			t.Errorf("ParseAltSecID(%q): %v", tt.in, err)
			continue
		}
		if a.Type != tt.typ || a.Strength() != tt.strength {
			t.Errorf("ParseAltSecID(%q) = %s/%s, want %s/%s", tt.in, a.Type, a.Strength(), tt.typ, tt.strength)
		}
		if tt.check != nil && !tt.check(a) {
			t.Errorf("ParseAltSecID(%q) fields = %+v", tt.in, a)
		}
		again, err := ParseAltSecID(a.String())
		if err != nil || again != a {
			t.Errorf("round trip of %q: %+v, %v", tt.in, again, err)
		}
	}
}

func TestParseAltSecIDErrors(t *testing.T) {
	for _, in := range []string{
		"", "X509:", "X509:<SKI>", "X509:<SKI>ABC", "X509:<SKI>ZZ", "X509:<SHA1-PUKEY>00",
		"X509:<I>DC=com", "X509:<I><SR>12", "X509:<I>DC=com<SR>", "X509:<I>DC=com<SR>1G",
		"X509: <RFC822>a@b", "X509:<X>y", "X509N:<I>a<SR>01", "SMTP:alice@contoso.com",
		"X509:<RFC822>", string(make([]byte, MaxAltSecIDLength+1)),
	} {
		if _, err := ParseAltSecID(in); !errors.Is(err, ErrMalformedAltSecID) {
			t.Errorf("ParseAltSecID(%.40q) err = %v, want ErrMalformedAltSecID", in, err)
		}
	}
}

func TestMappingTypeProperties(t *testing.T) {
	ntauth := map[MappingType]bool{X509IssuerSerialNumber: true, X509SKI: true, X509SHA1PublicKey: true, X509IssuerSubject: true, X509NSubjectOnly: true}
	for typ := X509IssuerSerialNumber; typ <= KerberosPrincipal; typ++ {
		if typ.NTAuthChecked() != ntauth[typ] {
			t.Errorf("%s.NTAuthChecked() = %v", typ, typ.NTAuthChecked())
		}
	}
}
