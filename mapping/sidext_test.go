package mapping

import (
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// Reference 2.1: the exact extnValue and whole Extension for contosoSID.
const (
	refSIDExtValue = "303EA03C060A2B060104018237190201A02E042C532D312D352D32312D333632333831313031352D333336313034343334382D33303330303832302D31303133"
	refSIDExtFull  = "304D06092B0601040182371902" + "0440" + refSIDExtValue
)

func TestMarshalSIDExtensionGolden(t *testing.T) {
	v, err := MarshalSIDExtension(mustSID(t, contosoSID))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ToUpper(hex.EncodeToString(v)); got != refSIDExtValue {
		t.Fatalf("extnValue\n got %s\nwant %s", got, refSIDExtValue)
	}
	e, _ := SIDExtension(mustSID(t, contosoSID))
	full, err := asn1.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.ToUpper(hex.EncodeToString(full)); got != refSIDExtFull {
		t.Fatalf("Extension\n got %s\nwant %s", got, refSIDExtFull)
	}
	if _, err := MarshalSIDExtension(SID{}); !errors.Is(err, ErrMalformedSID) {
		t.Fatalf("invalid SID: err = %v", err)
	}
}

func TestParseSIDExtension(t *testing.T) {
	sid, err := ParseSIDExtension(mustHex(t, refSIDExtValue))
	if err != nil || sid.String() != contosoSID {
		t.Fatalf("ParseSIDExtension = %v, %v", sid, err)
	}
	// Build GeneralNames holding otherNames with arbitrary payloads.
	other := func(oid string, payload string) string {
		// [0] { OID, [0] { OCTET STRING payload } }
		oidHex := map[string]string{"sid": "060A2B060104018237190201", "upn": "060A2B060104018237140203"}[oid]
		os := "04" + hexLen(len(payload)) + hex.EncodeToString([]byte(payload))
		ex := "A0" + hexLen(len(os)/2) + os
		body := oidHex + ex
		return "A0" + hexLen(len(body)/2) + body
	}
	seq := func(parts ...string) []byte {
		body := strings.Join(parts, "")
		return mustHex(t, "30"+hexLen(len(body)/2)+body)
	}
	tests := []struct {
		name  string
		value []byte
		state SIDState
		err   error
	}{
		{"valid", seq(other("sid", "S-1-5-21-1-2-3-500")), SIDValid, nil},
		{"other otherName then SID", seq(other("upn", "x"), other("sid", "S-1-5-18")), SIDValid, nil},
		{"dns GeneralName skipped", seq("820161", other("sid", "S-1-5-18")), SIDValid, nil},
		{"two SIDs", seq(other("sid", "S-1-5-18"), other("sid", "S-1-5-19")), SIDDuplicate, ErrDuplicateSID},
		{"no SID otherName (Q12)", seq(other("upn", "x")), SIDNone, ErrMalformedSIDExtension},
		{"text does not convert", seq(other("sid", "S-1-5-abc")), SIDMalformed, ErrMalformedSIDExtension},
		{"not a SEQUENCE", mustHex(t, "0400"), SIDMalformed, ErrMalformedSIDExtension},
		{"trailing bytes", append(seq(other("sid", "S-1-5-18")), 0), SIDMalformed, ErrMalformedSIDExtension},
		{"binary SID instead of text", seq("A016060A2B060104018237190201A0080406010100000000"), SIDMalformed, ErrMalformedSIDExtension},
		{"value not explicit", seq("A012060A2B0601040182371902010404532D312D"), SIDMalformed, ErrMalformedSIDExtension},
	}
	for _, tt := range tests {
		src := parseSIDExtensionValue(tt.value)
		if src.State != tt.state {
			t.Errorf("%s: state = %s, want %s (err %v)", tt.name, src.State, tt.state, src.Err)
		}
		_, err := ParseSIDExtension(tt.value)
		if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
			t.Errorf("%s: ParseSIDExtension err = %v, want %v", tt.name, err, tt.err)
		}
	}
}

func hexLen(n int) string { return strings.ToUpper(hex.EncodeToString([]byte{byte(n)})) }

func TestSANURLSource(t *testing.T) {
	good := SANURL(mustSID(t, contosoSID))
	if good != "tag:microsoft.com,2022-09-14:sid:"+contosoSID || len(good) != 77 {
		t.Fatalf("SANURL = %q (%d bytes)", good, len(good))
	}
	tests := []struct {
		name  string
		uris  []string
		state SIDState
	}{
		{"none", nil, SIDAbsent},
		{"other URI", []string{"https://contoso.com/"}, SIDAbsent},
		{"valid", []string{"https://x/", good}, SIDValid},
		{"duplicate", []string{good, good}, SIDDuplicate},
		{"malformed SID", []string{SANURLPrefix + "S-1-x"}, SIDMalformed},
		{"upper-case prefix ignored", []string{strings.ToUpper(SANURLPrefix) + contosoSID}, SIDIgnored},
		{"space in prefix ignored", []string{"tag:microsoft.com, 2022-09-14:sid:" + contosoSID}, SIDIgnored},
		{"lower-case s- accepted", []string{SANURLPrefix + "s-1-5-18"}, SIDValid},
	}
	for _, tt := range tests {
		if got := sanURLSource(tt.uris).State; got != tt.state {
			t.Errorf("%s: state = %s, want %s", tt.name, got, tt.state)
		}
	}
	if sanURLSource([]string{SANURLPrefix + "s-1-5-18"}).Canonical {
		t.Error("lower-case SID reported canonical")
	}
}
