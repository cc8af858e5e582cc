package mapping

import (
	"bytes"
	"errors"
	"testing"
)

func TestSIDBinaryAndString(t *testing.T) {
	bin := mustHex(t, "01 05 00 00 00 00 00 05 15 00 00 00 C7 F7 FE D7 7C 77 55 C8 94 5A CE 01 F5 03 00 00")
	s, err := ParseBinarySID(bin)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != contosoSID {
		t.Fatalf("String() = %q, want %q", got, contosoSID)
	}
	if !bytes.Equal(s.Bytes(), bin) {
		t.Fatalf("Bytes() = %X, want %X", s.Bytes(), bin)
	}
	p := mustSID(t, contosoSID)
	if !p.Equal(s) {
		t.Fatal("parsed string SID differs from binary SID")
	}
	d, ok := s.Domain()
	if !ok || d.String() != "S-1-5-21-3623811015-3361044348-30300820" {
		t.Fatalf("Domain() = %v %v", d, ok)
	}
	if rid, ok := s.RID(); !ok || rid != 1013 {
		t.Fatalf("RID() = %d %v", rid, ok)
	}
}

func TestParseBinarySIDErrors(t *testing.T) {
	for name, b := range map[string][]byte{
		"short header":   {1, 0, 0},
		"revision 2":     {2, 0, 0, 0, 0, 0, 0, 5},
		"16 subauths":    append([]byte{1, 16, 0, 0, 0, 0, 0, 5}, make([]byte, 64)...),
		"one byte short": mustHex(t, "010100000000000515000000")[:11],
		"trailing byte":  append(mustHex(t, "010100000000000515000000"), 0),
	} {
		if _, err := ParseBinarySID(b); !errors.Is(err, ErrMalformedSID) {
			t.Errorf("%s: err = %v, want ErrMalformedSID", name, err)
		}
	}
}

func TestParseSID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{contosoSID, contosoSID, true},
		{"s-1-5-32-544", "S-1-5-32-544", true},
		{"S-1-5", "S-1-5", true},
		{"S-1-0x1234567890AB-1", "S-1-0x1234567890AB-1", true},
		{"S-1-4294967296-7", "S-1-0x000100000000-7", true},
		{"S-1-0x10-7", "S-1-16-7", true},
		{"S-2-5-21", "", false},
		{"S-1", "", false},
		{"S-1-5-", "", false},
		{"S-1-5-+1", "", false},
		{"S-1-5-4294967296", "", false},
		{"S-1-281474976710656-1", "", false},
		{"S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16", "", false},
		{"X-1-5", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		s, err := ParseSID(tt.in)
		if tt.ok != (err == nil) {
			t.Errorf("ParseSID(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrMalformedSID) {
				t.Errorf("ParseSID(%q) err = %v, want ErrMalformedSID", tt.in, err)
			}
			continue
		}
		if s.String() != tt.want {
			t.Errorf("ParseSID(%q).String() = %q, want %q", tt.in, s.String(), tt.want)
		}
	}
}

func TestParseSIDTextAliases(t *testing.T) {
	dom := mustSID(t, "S-1-5-21-1-2-3")
	tests := []struct {
		in, want  string
		canonical bool
	}{
		{"BA", "S-1-5-32-544", false},
		{"da", "S-1-5-21-1-2-3-512", false},
		{"s-1-5-18", "S-1-5-18", false},
		{"S-1-5-18", "S-1-5-18", true},
	}
	for _, tt := range tests {
		s, canon, err := ParseSIDText(tt.in, dom)
		if err != nil || s.String() != tt.want || canon != tt.canonical {
			t.Errorf("ParseSIDText(%q) = %v, %v, %v; want %s, %v", tt.in, s, canon, err, tt.want, tt.canonical)
		}
	}
	if _, _, err := ParseSIDText("DA", SID{}); !errors.Is(err, ErrMalformedSID) {
		t.Errorf("domain alias without domain: err = %v", err)
	}
	if (SID{}).String() != "<invalid SID>" {
		t.Error("zero SID must render as invalid")
	}
}
