package mapaudit

import (
	"fmt"
	"time"
)

// Summary counts an audit's findings, overall and per DC.
type Summary struct {
	AsOf     string `json:"asOf"`
	Accounts int    `json:"accounts"`
	// Certificates audited; Issuers are CA certificates found among the
	// inputs (used for thumbprints, not audited); DuplicateCertificates
	// were read more than once; Expired expired before the as-of date and
	// were skipped.
	Certificates          int `json:"certificates"`
	Issuers               int `json:"issuers"`
	DuplicateCertificates int `json:"duplicateCertificates"`
	Expired               int `json:"expiredSkipped"`
	// Pairs are certificate/account pairs; Unmapped certificates lead to
	// no account.
	Pairs    int `json:"pairs"`
	Unmapped int `json:"unmapped"`
	// ByOutcome counts pairs by their worst verdict across the DCs today;
	// Compatibility by the worst in Compatibility mode.
	ByOutcome     map[Outcome]int `json:"byOutcome"`
	Compatibility map[Outcome]int `json:"compatibility"`
	// Fixes is the number of altSecurityIdentities values proposed.
	Fixes int `json:"fixes"`
	// DuplicateValues are altSecurityIdentities values held by two or more
	// accounts.
	DuplicateValues []Duplicate `json:"duplicateValues,omitempty"`
	DCs             []DCSummary `json:"dcs"`
}

// DCSummary counts one DC's verdicts today.
type DCSummary struct {
	DC        string          `json:"dc"`
	Source    string          `json:"source"`
	State     string          `json:"state"`
	Assumed   bool            `json:"assumed,omitempty"`
	ByOutcome map[Outcome]int `json:"byOutcome"`
	ByPath    map[string]int  `json:"byPath"`
	ByEvent   map[string]int  `json:"byEvent"`
}

func (s *Summary) init(opts Options) {
	if !opts.AsOf.IsZero() {
		s.AsOf = opts.AsOf.Format(time.DateOnly)
	}
	s.ByOutcome, s.Compatibility = map[Outcome]int{}, map[Outcome]int{}
	for _, dc := range opts.DCs {
		s.DCs = append(s.DCs, DCSummary{DC: dc.Name, Source: dc.Source, State: dc.Describe(), Assumed: dc.Assumed,
			ByOutcome: map[Outcome]int{}, ByPath: map[string]int{}, ByEvent: map[string]int{}})
	}
}

func (s *Summary) add(f *Finding, dcs []DC) {
	if f.Account == nil {
		s.Unmapped++
	} else {
		s.Pairs++
	}
	s.ByOutcome[f.Outcome]++
	s.Compatibility[f.Compatibility]++
	s.Fixes += len(f.Fixes)
	for i := range f.DCs {
		if i >= len(s.DCs) {
			break
		}
		t := &f.DCs[i].Today
		d := &s.DCs[i]
		d.ByOutcome[t.Outcome]++
		d.ByPath[string(t.Path)]++
		if e := t.Event(); e != "" {
			d.ByEvent[e]++
		}
	}
}

// FailOn is the --fail-on threshold of an audit run in CI.
type FailOn string

// Thresholds: denied fails when a pair is denied on some DC today; weak
// also when a pair is allowed only with an event, or only in Compatibility
// mode; never does not fail. Unmapped certificates never fail an audit:
// a CA export holds certificates, such as TLS server certificates, that no
// account uses.
const (
	FailOnDenied FailOn = "denied"
	FailOnWeak   FailOn = "weak"
	FailOnNever  FailOn = "never"
)

// ParseFailOn reads a --fail-on value.
func ParseFailOn(s string) (FailOn, error) {
	switch f := FailOn(s); f {
	case FailOnDenied, FailOnWeak, FailOnNever:
		return f, nil
	}
	return "", fmt.Errorf("--fail-on %q: use denied, weak or never", s)
}

// Exceeds reports whether the audit's findings are over the threshold.
func (s *Summary) Exceeds(t FailOn) bool {
	switch t {
	case FailOnDenied:
		return s.ByOutcome[OutcomeDenied] > 0
	case FailOnWeak:
		return s.ByOutcome[OutcomeDenied]+s.ByOutcome[OutcomeLogged] > 0 ||
			s.Compatibility[OutcomeLogged]+s.Compatibility[OutcomeDenied] > 0
	}
	return false
}
