package mapping

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDCStateMode(t *testing.T) {
	tests := []struct {
		name string
		p    time.Time
		v    RegDWORD
		want Mode
	}{
		{"before May 2022", date(2022, 4, 12), RegDWORD{}, ModeNone},
		{"May 2022, absent", DateKB5014754, RegDWORD{}, ModeCompatibility},
		{"2022, value 0", date(2022, 6, 14), DWORD(0), ModeDisabled},
		{"2023-04-11, value 0 clamps to 1", DateDisabledRemoved, DWORD(0), ModeCompatibility},
		{"2024, value 2", date(2024, 1, 9), DWORD(2), ModeEnforcement},
		{"value 7 clamps to 2", date(2024, 1, 9), DWORD(7), ModeEnforcement},
		{"day before Feb 2025, absent", date(2025, 2, 10), RegDWORD{}, ModeCompatibility},
		{"Feb 2025, absent", DateEnforcementDefault, RegDWORD{}, ModeEnforcement},
		{"Feb 2025, value 1 kept", DateEnforcementDefault, DWORD(1), ModeCompatibility},
		{"Sept 2025, value 1 ignored", DateFullEnforcement, DWORD(1), ModeEnforcement},
	}
	for _, tt := range tests {
		dc := DCState{OS: OS2019, LastUpdate: tt.p, StrongCertificateBindingEnforcement: tt.v}
		if got := dc.Mode(); got != tt.want {
			t.Errorf("%s: Mode() = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestDCStateNTAuthMode(t *testing.T) {
	tests := []struct {
		p    time.Time
		v    RegDWORD
		want NTAuthMode
	}{
		{date(2025, 3, 11), DWORD(2), NTAuthOff},
		{DateNTAuthAudit, RegDWORD{}, NTAuthAudit},
		{DateNTAuthAudit, DWORD(0), NTAuthOff},
		{DateNTAuthAudit, DWORD(2), NTAuthEnforce},
		{DateNTAuthEnforce, RegDWORD{}, NTAuthEnforce},
		{DateNTAuthEnforce, DWORD(0), NTAuthAudit},
		{DateNTAuthEnforce, DWORD(1), NTAuthAudit},
		{DateNTAuthLocked, DWORD(1), NTAuthEnforce},
	}
	for _, tt := range tests {
		dc := DCState{OS: OS2022, LastUpdate: tt.p, AllowNtAuthPolicyBypass: tt.v}
		if got := dc.NTAuthMode(); got != tt.want {
			t.Errorf("P=%s v=%+v: NTAuthMode() = %d, want %d", tt.p.Format(time.DateOnly), tt.v, got, tt.want)
		}
	}
}

func TestDCStateCapabilities(t *testing.T) {
	tests := []struct {
		name       string
		dc         DCState
		san        Tristate
		strongName bool
		weakID     int
	}{
		{"2016 never SAN URL", DCState{OS: OS2016, LastUpdate: date(2025, 6, 10)}, No, false, 39},
		{"2019 after Feb 2025", DCState{OS: OS2019, LastUpdate: date(2025, 2, 11)}, Yes, true, 39},
		{"2019 before Feb 2025 uncertain", DCState{OS: OS2019, LastUpdate: date(2024, 10, 8)}, Uncertain, true, 39},
		{"2019 before Sept 2024", DCState{OS: OS2019, LastUpdate: date(2024, 8, 13)}, Uncertain, false, 39},
		{"declared support wins", DCState{OS: OS2016, SANURLSupport: Yes, LastUpdate: date(2025, 6, 10)}, Yes, false, 39},
		{"2008 R2 event IDs", DCState{OS: OS2008R2, LastUpdate: date(2023, 1, 10)}, No, false, 41},
		{"unknown OS", DCState{LastUpdate: date(2025, 6, 10)}, Uncertain, false, 39},
	}
	for _, tt := range tests {
		if got := tt.dc.SANURLSupported(); got != tt.san {
			t.Errorf("%s: SANURLSupported = %d, want %d", tt.name, got, tt.san)
		}
		if got := tt.dc.StrongNamePolicySupported(); got != tt.strongName {
			t.Errorf("%s: StrongNamePolicySupported = %v", tt.name, got)
		}
		if w, _, _ := tt.dc.EventIDs(); w != tt.weakID {
			t.Errorf("%s: weak event %d, want %d", tt.name, w, tt.weakID)
		}
	}
	if _, p, m := (DCState{OS: OS2008}).EventIDs(); p != 48 || m != 49 {
		t.Errorf("2008 predates/mismatch = %d/%d", p, m)
	}
}

func TestDCStatePatchLevel(t *testing.T) {
	asOf := date(2026, 1, 13)
	tests := []struct {
		dc      DCState
		want    time.Time
		assumed bool
	}{
		{DCState{OS: OS2019, LastUpdate: date(2024, 5, 14), AsOf: asOf}, date(2024, 5, 14), false},
		{DCState{OS: OS2019, AsOf: asOf}, asOf, true},
		{DCState{OS: OS2008R2, AsOf: asOf}, date(2023, 1, 10), true},
		{DCState{OS: OS2008R2, AsOf: asOf, ESU: true}, date(2024, 1, 9), true},
		{DCState{OS: OS2012R2, AsOf: asOf}, date(2023, 10, 10), true},
		{DCState{OS: OS2012R2, AsOf: asOf, ESU: true}, asOf, true},
		{DCState{OS: OS2019}, latest, true},
	}
	for i, tt := range tests {
		p, assumed := tt.dc.PatchLevel()
		if !p.Equal(tt.want) || assumed != tt.assumed {
			t.Errorf("case %d: PatchLevel = %s %v, want %s %v", i, p, assumed, tt.want, tt.assumed)
		}
	}
	if got := (DCState{}).Compensation(); got != 600*time.Second {
		t.Errorf("default compensation = %s", got)
	}
	if got := (DCState{CertificateBackdatingCompensation: DWORD(0x01E13380)}).Compensation(); got != 365*24*time.Hour {
		t.Errorf("one-year compensation = %s", got)
	}
}

func TestParseStrongNameRules(t *testing.T) {
	tp := strings.Repeat("4F", 20)
	rules, err := ParseStrongNameRules("\n" + tp + "; 2.16.840.1.101.3.2.1.3.13, 1.2.3; UpnSuffix=contoso.com, IssuerSubject\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || len(rules[0].PolicyOIDs) != 2 || !rules[0].IssuerSubject || rules[0].UPNSuffixes[0] != "contoso.com" {
		t.Fatalf("rules = %+v", rules)
	}
	for name, text := range map[string]string{
		"two fields":           tp + "; 1.2.3",
		"short thumbprint":     "4F; 1.2.3; IssuerSubject",
		"no OID":               tp + "; ; IssuerSubject",
		"unknown method":       tp + "; 1.2.3; Subject",
		"empty suffix":         tp + "; 1.2.3; UpnSuffix=",
		"duplicate thumbprint": tp + "; 1.2.3; IssuerSubject\n" + tp + "; 1.2.4; IssuerSubject",
	} {
		if _, err := ParseStrongNameRules(text); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%s: err = %v, want ErrInvalidPolicy", name, err)
		}
	}
}
