package mapping

import (
	"crypto/x509/pkix"
	"testing"
)

func TestClassifyValue(t *testing.T) {
	c := parse(t, certSpec{
		issuer: name(t, rdn(ps(oidC, "JP")), rdn(u8(oidST, "Tokyo")), rdn(u8(oidO, "Example, Inc.")), rdn(u8(oidCN, "Example Issuing CA G2"))),
		serial: mustHex(t, "008F112233"),
		exts:   []pkix.Extension{skiExt(t, []byte{0xAB, 0xCD}), san(t, email("alice@contoso.com"))},
	})
	iss := `C=JP,S=Tokyo,O="Example, Inc.",CN=Example Issuing CA G2`
	tests := []struct {
		value string
		class MatchClass
		typ   MappingType
	}{
		{"X509:<I>" + iss + "<SR>3322118F00", MatchExact, X509IssuerSerialNumber},
		{"x509:<i>c=jp,s=tokyo,o=\"example, inc.\",cn=example issuing ca g2<sr>3322118f00", MatchExact, X509IssuerSerialNumber},
		{"X509:<I>" + iss + "<SR>3322118F", MatchExact, X509IssuerSerialNumber}, // sign byte dropped (Q2)
		{"X509:<SKI>abcd", MatchExact, X509SKI},
		{"X509:<RFC822>ALICE@contoso.com", MatchExact, X509RFC822},
		// .NET order with ", " and RFC 4514 escapes: the KDC does not match it.
		{`X509:<I>CN=Example Issuing CA G2, O=Example\, Inc., ST=Tokyo, C=JP<SR>3322118F00`, MatchNormalisedOnly, X509IssuerSerialNumber},
		// Display-order serial.
		{"X509:<I>" + iss + "<SR>008F112233", MatchNormalisedOnly, X509IssuerSerialNumber},
		{"X509:<I>" + iss + "<SR>0102", MatchOtherCertificate, X509IssuerSerialNumber},
		{"X509:<SKI>0102", MatchOtherCertificate, X509SKI},
		{"X509:<RFC822>bob@contoso.com", MatchUnrelated, X509RFC822},
		{"Kerberos:alice@EXAMPLE", MatchNotCertificate, KerberosPrincipal},
		{"X509:<I>broken", MatchUnparseable, TypeUnknown},
	}
	cands := Candidates(c)
	for _, tt := range tests {
		got := ClassifyValue(c, cands, tt.value)
		if got.Class != tt.class || got.Type != tt.typ {
			t.Errorf("ClassifyValue(%q) = %s/%s, want %s/%s", tt.value, got.Class, got.Type, tt.class, tt.typ)
		}
	}
	if got := ClassifyValue(c, nil, "X509:<SKI>ABCD"); got.Class != MatchExact {
		t.Errorf("nil candidates: %s", got.Class)
	}
	if got := ClassifyValue(c, cands, "X509:<I>"+iss+"<SR>3322118F"); len(got.Labels) != 1 || got.Labels[0] != LabelSerialSignByte {
		t.Errorf("sign-byte match labels = %v", got.Labels)
	}
}
