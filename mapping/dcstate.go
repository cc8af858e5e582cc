package mapping

import (
	"fmt"
	"time"
)

// OS is the Windows Server release of a domain controller.
type OS int

// Windows Server releases. OSUnknown is treated conservatively: 2012+ event
// IDs, SAN URL support uncertain, no strong-name policy.
const (
	OSUnknown OS = iota
	OS2008
	OS2008R2
	OS2012
	OS2012R2
	OS2016
	OS2019
	OS2022
	OS2025
)

var osNames = [...]string{"unknown", "2008", "2008 R2", "2012", "2012 R2", "2016", "2019", "2022", "2025"}

// String returns "Windows Server <release>".
func (o OS) String() string {
	if o < 0 || int(o) >= len(osNames) {
		return fmt.Sprintf("OS(%d)", int(o))
	}
	return "Windows Server " + osNames[o]
}

// Mode is the effective StrongCertificateBindingEnforcement mode (5.2).
type Mode int

// Effective modes.
const (
	// ModeNone: the DC has no KB5014754 update (before 2022-05-10).
	ModeNone Mode = iota
	// ModeDisabled: value 0, honoured before 2023-04-11.
	ModeDisabled
	// ModeCompatibility: value 1.
	ModeCompatibility
	// ModeEnforcement: value 2 (Full Enforcement).
	ModeEnforcement
)

var modeNames = [...]string{"pre-KB5014754", "Disabled (0)", "Compatibility (1)", "Full Enforcement (2)"}

// String returns the mode in words.
func (m Mode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("Mode(%d)", int(m))
	}
	return modeNames[m]
}

// NTAuthMode is the KB5057784 mode for explicit mappings (reference 1.5).
type NTAuthMode int

// KB5057784 modes.
const (
	NTAuthOff NTAuthMode = iota
	NTAuthAudit
	NTAuthEnforce
)

// Tristate is yes, no or uncertain.
type Tristate int

// Tristate values.
const (
	Uncertain Tristate = iota
	Yes
	No
)

// RegDWORD is an optional REG_DWORD registry value: absent (Set false) is
// different from 0.
type RegDWORD struct {
	Value uint32
	Set   bool
}

// DWORD returns a set registry value.
func DWORD(v uint32) RegDWORD { return RegDWORD{Value: v, Set: true} }

// Milestones: Microsoft update release dates that change KDC behaviour.
var (
	DateKB5014754          = date(2022, 5, 10)
	DateDisabledRemoved    = date(2023, 4, 11)
	DateStrongNamePolicy   = date(2024, 9, 10)
	DateEnforcementDefault = date(2025, 2, 11)
	DateNTAuthAudit        = date(2025, 4, 8)
	DateNTAuthEnforce      = date(2025, 7, 8)
	DateFullEnforcement    = date(2025, 9, 9)
	DateNTAuthLocked       = date(2025, 10, 14)
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// latest stands for "patched with every update" when no date is known.
var latest = date(9999, 1, 1)

// DefaultBackdatingCompensation is the CertificateBackdatingCompensation
// the KDC uses when the value is absent (observed): 600 seconds.
const DefaultBackdatingCompensation = 600 * time.Second

// DCState is everything about one domain controller that the decision
// procedure needs (reference 4.1, 4.4, 5.2, 5.3). The zero value is a DC of
// unknown OS, patched with every update, with no registry values set.
type DCState struct {
	// OS is the DC's Windows Server release.
	OS OS
	// LastUpdate is the release date of the newest cumulative update
	// installed (the patch level P). When zero, P is AsOf capped at the last
	// update OS can receive (reference 1.6); when both are zero, the DC is
	// assumed fully patched and verdicts are labelled.
	LastUpdate time.Time
	// AsOf is the scenario date, used when LastUpdate is zero.
	AsOf time.Time
	// ESU reports extended security updates (raises the 1.6 caps).
	ESU bool
	// StrongCertificateBindingEnforcement, CertificateBackdatingCompensation
	// (seconds) and AllowNtAuthPolicyBypass are the KDC registry values of
	// 4.1; absent values take the date-implied defaults.
	StrongCertificateBindingEnforcement RegDWORD
	CertificateBackdatingCompensation   RegDWORD
	AllowNtAuthPolicyBypass             RegDWORD
	// SANURLSupport overrides the SAN URL support estimate: Uncertain means
	// "auto" (reference Q4).
	SANURLSupport Tristate
	// StrongNameRules is the name-based strong mapping policy (4.4); empty
	// when the policy is not configured. See ParseStrongNameRules.
	StrongNameRules []StrongNameRule
}

// PatchLevel returns the effective update date P and whether it was assumed
// rather than declared.
func (d DCState) PatchLevel() (p time.Time, assumed bool) {
	if !d.LastUpdate.IsZero() {
		return d.LastUpdate.UTC(), false
	}
	if d.AsOf.IsZero() {
		return latest, true
	}
	p = d.AsOf.UTC()
	var limit time.Time
	switch d.OS {
	case OS2008, OS2008R2:
		limit = date(2023, 1, 10)
		if d.ESU {
			limit = date(2024, 1, 9)
		}
	case OS2012, OS2012R2:
		if !d.ESU {
			limit = date(2023, 10, 10)
		}
	}
	if !limit.IsZero() && p.After(limit) {
		p = limit
	}
	return p, true
}

// Mode returns the effective enforcement mode (reference 5.2).
func (d DCState) Mode() Mode {
	p, _ := d.PatchLevel()
	switch {
	case p.Before(DateKB5014754):
		return ModeNone
	case !p.Before(DateFullEnforcement):
		return ModeEnforcement
	}
	v := d.StrongCertificateBindingEnforcement
	switch {
	case !v.Set:
		if !p.Before(DateEnforcementDefault) {
			return ModeEnforcement
		}
		return ModeCompatibility
	case v.Value > 2:
		return ModeEnforcement // observed clamp
	case v.Value == 0:
		if !p.Before(DateDisabledRemoved) {
			return ModeCompatibility
		}
		return ModeDisabled
	case v.Value == 1:
		return ModeCompatibility
	}
	return ModeEnforcement
}

// Compensation returns the backdating compensation (600 s when absent).
func (d DCState) Compensation() time.Duration {
	if d.CertificateBackdatingCompensation.Set {
		return time.Duration(d.CertificateBackdatingCompensation.Value) * time.Second
	}
	return DefaultBackdatingCompensation
}

// NTAuthMode returns the KB5057784 mode (reference 5.2).
func (d DCState) NTAuthMode() NTAuthMode {
	p, _ := d.PatchLevel()
	v := d.AllowNtAuthPolicyBypass
	switch {
	case p.Before(DateNTAuthAudit):
		return NTAuthOff
	case !p.Before(DateNTAuthLocked):
		return NTAuthEnforce
	case p.Before(DateNTAuthEnforce):
		if !v.Set {
			return NTAuthAudit
		}
		switch v.Value {
		case 0:
			return NTAuthOff
		case 1:
			return NTAuthAudit
		}
		return NTAuthEnforce
	case !v.Set || v.Value == 2:
		return NTAuthEnforce
	}
	return NTAuthAudit
}

// SANURLSupported estimates SAN URL support (reference Q4): the declared
// value if any; otherwise yes for 2019+ patched on or after 2025-02-11, no
// for 2016 and earlier, uncertain in between.
func (d DCState) SANURLSupported() Tristate {
	if d.SANURLSupport != Uncertain {
		return d.SANURLSupport
	}
	p, _ := d.PatchLevel()
	switch {
	case d.OS >= OS2008 && d.OS <= OS2016:
		return No
	case d.OS >= OS2019 && !p.Before(DateEnforcementDefault):
		return Yes
	}
	return Uncertain
}

// StrongNamePolicySupported reports whether the DC honours the name-based
// strong mapping policy: Server 2019 or later with the 2024-09-10 update.
func (d DCState) StrongNamePolicySupported() bool {
	p, _ := d.PatchLevel()
	return d.OS >= OS2019 && !p.Before(DateStrongNamePolicy)
}

// EventIDs returns the KB5014754 event IDs for the DC's OS: weak mapping,
// certificate predates account, SID mismatch (reference 5.3).
func (d DCState) EventIDs() (weak, predates, sidMismatch int) {
	if d.OS == OS2008 || d.OS == OS2008R2 {
		return 41, 48, 49
	}
	return 39, 40, 41
}
