package mapping

import (
	"encoding/asn1"
	"testing"
)

type renderNameCase struct {
	name    string
	der     []byte
	want    string
	certain bool
}

func renderNameCases(t testing.TB) []renderNameCase {
	oidUnknown := asn1.ObjectIdentifier{2, 5, 4, 17} // postalCode: no known CryptoAPI key
	return []renderNameCase{
		{"3.6 example 1: AD CS issuer, encoding order", contosoCA(t), "DC=com,DC=contoso,CN=CONTOSO-DC-CA", true},
		{"3.6 example 2: quoting and S=", name(t, rdn(ps(oidC, "JP")), rdn(u8(oidST, "Tokyo")), rdn(u8(oidO, "Example, Inc.")), rdn(u8(oidCN, "Example Issuing CA G2"))),
			`C=JP,S=Tokyo,O="Example, Inc.",CN=Example Issuing CA G2`, true},
		{"multi-valued RDN joined by one space", name(t, rdn(u8(oidOU, "B"), u8(oidCN, "A"))), "CN=A OU=B", true},
		// SET { OU=B, CN=A } in this (non-DER-sorted) order: not re-sorted.
		{"multi-valued RDN kept in encoded order", mustHex(t, "30163114"+"3008060355040B0C0142"+"300806035504030C0141"), "OU=B CN=A", true},
		{"E= key", name(t, rdn(ia5(oidEmail, "alice@contoso.com"))), "E=alice@contoso.com", true},
		{"empty value quoted", name(t, rdn(u8(oidCN, ""))), `CN=""`, true},
		{"inner quote doubled", name(t, rdn(u8(oidCN, `say "hi"`))), `CN="say ""hi"""`, true},
		{"leading space quoted", name(t, rdn(u8(oidCN, " x"))), `CN=" x"`, true},
		{"trailing space quoted", name(t, rdn(u8(oidCN, "x "))), `CN="x "`, true},
		{"inner double space not quoted", name(t, rdn(u8(oidCN, "a  b"))), "CN=a  b", true},
		{"plus quoted", name(t, rdn(u8(oidCN, "a+b"))), `CN="a+b"`, true},
		{"equals, hash, angle, semicolon quoted", name(t, rdn(u8(oidCN, "a=#<>;"))), `CN="a=#<>;"`, true},
		{"newline quoted", name(t, rdn(u8(oidCN, "a\nb"))), "CN=\"a\nb\"", true},
		{"unknown OID uncertain", name(t, rdn(u8(oidUnknown, "100-0001"))), "OID.2.5.4.17=100-0001", false},
		{"BMPString decoded, uncertain", name(t, rdn(atv{oidCN, asn1.TagBMPString, []byte{0, 'A', 0x30, 0x42}})), "CN=Aあ", false},
		{"TeletexString as Latin-1, uncertain", name(t, rdn(atv{oidCN, asn1.TagT61String, []byte{'c', 0xE9}})), "CN=cé", false},
		{"OCTET STRING as #hex, uncertain", name(t, rdn(atv{oidCN, asn1.TagOctetString, []byte{0xAB}})), "CN=#0401AB", false},
		{"PrintableString with a high byte as #hex, uncertain", name(t, rdn(atv{oidCN, asn1.TagPrintableString, []byte{'a', 0xE9}})), "CN=#1302" + "61E9", false},
		{"invalid UTF-8 as #hex, uncertain", name(t, rdn(atv{oidCN, asn1.TagUTF8String, []byte{0xFF}})), "CN=#0C01FF", false},
		{"UTF-8 with a comma quoted", name(t, rdn(u8(oidO, "Société, SA"))), `O="Société, SA"`, true},
	}
}

// renderNameSeeds are the golden names plus malformed ones, for fuzzing.
func renderNameSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, tt := range renderNameCases(t) {
		out = append(out, tt.der)
	}
	return append(out, []byte{0x30, 0x00}, []byte{0x30, 0x02, 0x31, 0x00}, []byte{0x30, 0x04, 0x31, 0x02, 0x04, 0x00},
		mustHex(t, "300D310B300906052B0601040106"), mustHex(t, "3009310730050603550403"))
}

func TestRenderNameGolden(t *testing.T) {
	for _, tt := range renderNameCases(t) {
		got, certain, err := RenderName(tt.der)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got != tt.want || certain != tt.certain {
			t.Errorf("%s:\n got %q certain=%v\nwant %q certain=%v", tt.name, got, certain, tt.want, tt.certain)
		}
	}
}

func TestRenderNameErrors(t *testing.T) {
	for name, der := range map[string][]byte{
		"empty":          nil,
		"not a sequence": {0x31, 0x00},
		"empty RDN":      {0x30, 0x02, 0x31, 0x00},
		"trailing":       {0x30, 0x00, 0x00},
		"bad attribute":  {0x30, 0x04, 0x31, 0x02, 0x04, 0x00},
	} {
		if _, _, err := RenderName(der); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// An empty name (no RDN) renders as the empty string.
	if s, ok, err := RenderName([]byte{0x30, 0x00}); err != nil || s != "" || !ok {
		t.Errorf("empty name = %q %v %v", s, ok, err)
	}
}
