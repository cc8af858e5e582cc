package mapaudit

import (
	"fmt"
	"strings"
	"time"

	"github.com/tegata-project/tegata/mapping"
)

// DC is one domain controller the audit predicts for.
type DC struct {
	// Name is the DC's DNS name.
	Name string
	// State is what the decision procedure needs; AsOf is the audit's date.
	State mapping.DCState
	// Source says where the DC and its state came from, such as
	// "dcs.yaml:3", "directory (10.0 (20348))" or "kdc.reg".
	Source string
	// Assumed marks the stand-in DC used when no DC is known.
	Assumed bool
}

// RegAssignment is a reg export read for one named DC.
type RegAssignment struct {
	DC     string
	Values KDCRegistry
}

// AssumedDCName names the stand-in DC of an audit with no DC.
const AssumedDCName = "assumed-dc"

// ResolveDCs merges the DCs found in the directory, the declarations and
// the registry exports into the DCs to predict for, in that order. A
// declaration or export names a DC by its DNS name or its first label; it
// completes a directory DC of that name or adds one. The declared OS wins
// over the directory's. A DC without a declared lastUpdate is assumed
// patched up to asOf (capped at the last update its OS can receive), and
// its verdicts are labelled so. With no DC at all, one assumed fully
// patched DC of unknown OS stands in, named AssumedDCName.
func ResolveDCs(dirDCs []DomainController, decls []DCDeclaration, regs []RegAssignment, asOf time.Time) ([]DC, []Problem) {
	var out []DC
	var probs []Problem
	unknownOS := map[string]error{}
	find := func(name string) int {
		for i := range out {
			if sameHost(out[i].Name, name) {
				return i
			}
		}
		return -1
	}
	for _, d := range dirDCs {
		if d.Name == "" || find(d.Name) >= 0 {
			continue
		}
		dc := DC{Name: d.Name, Source: "directory"}
		if os, ok := OSFromDirectory(d.OperatingSystem, d.OperatingSystemVersion); ok {
			dc.State.OS = os
			dc.Source = fmt.Sprintf("directory (%s)", strings.TrimSpace(d.OperatingSystem+" "+d.OperatingSystemVersion))
		} else {
			// Reported after the declarations, which may name the OS.
			unknownOS[d.Name] = fmt.Errorf("operating system %q %q not recognised: declare os: in --dcs (verdicts use the conservative unknown-OS model)", d.OperatingSystem, d.OperatingSystemVersion)
		}
		out = append(out, dc)
	}
	for _, decl := range decls {
		i := find(decl.Name)
		if i < 0 {
			out = append(out, DC{Name: decl.Name, State: decl.State, Source: decl.Origin})
			continue
		}
		os := out[i].State.OS
		out[i].State = decl.State
		if !decl.OSSet {
			out[i].State.OS = os
		}
		if decl.OSSet {
			delete(unknownOS, out[i].Name)
		}
		out[i].Name = decl.Name
		out[i].Source = decl.Origin + "; " + out[i].Source
	}
	for _, d := range dirDCs {
		if err, ok := unknownOS[d.Name]; ok {
			probs = append(probs, Problem{Origin: d.Name, Err: err})
			delete(unknownOS, d.Name)
		}
	}
	for _, r := range regs {
		i := find(r.DC)
		if i < 0 {
			out = append(out, DC{Name: r.DC, Source: r.Values.Origin})
			i = len(out) - 1
			probs = append(probs, Problem{Origin: r.Values.Origin, Err: fmt.Errorf("DC %q is neither in the directory nor declared: its OS is unknown; declare it in --dcs", r.DC)})
		} else {
			out[i].Source += "; " + r.Values.Origin
		}
		r.Values.Apply(&out[i].State)
	}
	if len(out) == 0 {
		out = append(out, DC{Name: AssumedDCName, Assumed: true,
			Source: "assumed: no DC in the directory or declared; one DC of unknown OS patched up to the as-of date"})
	}
	for i := range out {
		out[i].State.AsOf = asOf
	}
	return out, probs
}

// sameHost compares host names ignoring case, and a short name with the
// first label of a DNS name.
func sameHost(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	la, _, okA := strings.Cut(a, ".")
	lb, _, okB := strings.Cut(b, ".")
	return okA != okB && strings.EqualFold(la, lb)
}

// Describe says in words what the audit assumes about the DC.
func (d DC) Describe() string {
	p, assumed := d.State.PatchLevel()
	patch := "patch level " + p.Format(time.DateOnly)
	if assumed {
		patch = "assumed patched to " + p.Format(time.DateOnly)
	}
	return fmt.Sprintf("%s, %s, %s", d.State.OS, patch, d.State.Mode())
}

// The phase boundaries of reference 5.7 and the day before the first, so
// that the first change is seen against the pre-KB5014754 behaviour.
var phaseDates = []time.Time{
	mapping.DateKB5014754.AddDate(0, 0, -1),
	mapping.DateKB5014754, mapping.DateDisabledRemoved, mapping.DateStrongNamePolicy,
	mapping.DateEnforcementDefault, mapping.DateNTAuthAudit, mapping.DateNTAuthEnforce,
	mapping.DateFullEnforcement, mapping.DateNTAuthLocked,
}

// compatibilityState returns s as it would be with
// StrongCertificateBindingEnforcement=1, which a DC honours only before
// the 2025-09-09 update: a DC past it is taken back to the day before.
func compatibilityState(s mapping.DCState) mapping.DCState {
	c := s
	c.StrongCertificateBindingEnforcement = mapping.DWORD(1)
	if p, _ := s.PatchLevel(); !p.Before(mapping.DateFullEnforcement) {
		c.LastUpdate = mapping.DateFullEnforcement.AddDate(0, 0, -1)
	}
	return c
}
