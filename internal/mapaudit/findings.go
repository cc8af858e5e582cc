package mapaudit

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/tegata-project/tegata/mapping"
)

// Outcome is a verdict reduced to what an operator acts on.
type Outcome string

// Outcomes, from best to worst; OutcomeUnmapped is a certificate that leads
// to no account at all.
const (
	OutcomeAllowed  Outcome = "allowed"
	OutcomeLogged   Outcome = "allowed-with-event"
	OutcomeDenied   Outcome = "denied"
	OutcomeUnmapped Outcome = "unmapped"
)

// severity orders outcomes: deny beats allow with an event beats allow
// (reference 5.7).
func (o Outcome) severity() int {
	switch o {
	case OutcomeLogged:
		return 1
	case OutcomeDenied, OutcomeUnmapped:
		return 2
	}
	return 0
}

func outcomeOf(v *mapping.Verdict) Outcome {
	switch {
	case !v.Allowed:
		return OutcomeDenied
	case v.EventID != 0:
		return OutcomeLogged
	}
	return OutcomeAllowed
}

// Brief is the part of a mapping.Verdict an audit keeps: everything but the
// step-by-step explanation, which `tegata mapping explain` shows.
type Brief struct {
	Outcome       Outcome         `json:"outcome"`
	KerberosError string          `json:"kerberosError,omitempty"`
	EventID       int             `json:"event,omitempty"`
	Level         string          `json:"level,omitempty"`
	Mode          string          `json:"mode"`
	Path          mapping.Path    `json:"path"`
	Mapping       string          `json:"mapping,omitempty"`
	MappingType   string          `json:"mappingType,omitempty"`
	MappingValue  string          `json:"mappingValue,omitempty"`
	Strength      string          `json:"strength"`
	Reason        string          `json:"reason"`
	Labels        []mapping.Label `json:"labels,omitempty"`
}

// BriefOf reduces v to a Brief.
func BriefOf(v *mapping.Verdict) Brief { return brief(v) }

func brief(v *mapping.Verdict) Brief {
	b := Brief{
		Outcome: outcomeOf(v), EventID: v.EventID, Mode: v.Mode.String(), Path: v.Path,
		Strength: v.Mapping.Strength.String(), Reason: v.Reason, Labels: v.Labels,
	}
	if v.KerberosError != 0 {
		b.KerberosError = v.KerberosError.String()
	}
	if v.EventID != 0 {
		b.Level = v.Level.String()
	}
	if v.Mapping.Kind != mapping.MappingNone {
		b.Mapping = v.Mapping.Kind.String()
		b.MappingValue = v.Mapping.Value
		if v.Mapping.Kind == mapping.MappingExplicit {
			b.MappingType = v.Mapping.Type.String()
		}
	}
	return b
}

// Event returns "39 (Error)", or "" without an event.
func (b Brief) Event() string {
	if b.EventID == 0 {
		return ""
	}
	return strconv.Itoa(b.EventID) + " (" + b.Level + ")"
}

// Change is a date at which a DC's verdict changes once the DC has the
// update of that date (reference 5.7).
type Change struct {
	Date    string       `json:"date"`
	Outcome Outcome      `json:"outcome"`
	Path    mapping.Path `json:"path"`
	EventID int          `json:"event,omitempty"`
	// Future reports a date after the audit's as-of date.
	Future bool `json:"future,omitempty"`
}

// DCResult is one pair's prediction on one DC.
type DCResult struct {
	DC string `json:"dc"`
	// Today is the verdict under the DC's state at the as-of date.
	Today Brief `json:"today"`
	// Compatibility is the verdict with StrongCertificateBindingEnforcement=1
	// on a DC before the 2025-09-09 update.
	Compatibility Brief `json:"compatibility"`
	// Changes lists, for a DC whose patch level is assumed, the update
	// dates at which its verdict changes.
	Changes []Change `json:"changes,omitempty"`
}

// CertificateSummary describes the audited certificate.
type CertificateSummary struct {
	Origin     string    `json:"origin"`
	Subject    string    `json:"subject"`
	Issuer     string    `json:"issuer"`
	Serial     string    `json:"serial"`
	Thumbprint string    `json:"thumbprint"`
	NotBefore  time.Time `json:"notBefore"`
	NotAfter   time.Time `json:"notAfter"`
	Requester  string    `json:"requesterHint,omitempty"`
	UPNs       []string  `json:"upns,omitempty"`
	DNSNames   []string  `json:"dnsNames,omitempty"`
	// SID is the SID the certificate carries and SIDSource where: "SID
	// extension" or "SAN URL"; SIDState is the extension's state.
	SID       string `json:"sid,omitempty"`
	SIDSource string `json:"sidSource,omitempty"`
	SIDState  string `json:"sidState"`
	NTAuth    string `json:"ntauth"`
}

func summarizeCertificate(in *CertificateInput) CertificateSummary {
	c := in.Cert
	s := CertificateSummary{
		Origin: in.Origin, Subject: c.Subject, Issuer: c.Issuer,
		Serial:     upperHex(c.RawSerial),
		Thumbprint: upperHex(c.KeyHashes.Thumbprint[:]),
		NotBefore:  c.NotBefore, NotAfter: c.NotAfter, Requester: in.Requester,
		UPNs: c.UPNs, DNSNames: c.DNSNames, SIDState: c.SIDExtension.State.String(),
	}
	switch {
	case c.SIDExtension.State != mapping.SIDAbsent:
		s.SID, s.SIDSource = c.SIDExtension.Text, "SID extension"
	case c.SANURL.State != mapping.SIDAbsent:
		s.SID, s.SIDSource, s.SIDState = c.SANURL.Text, "SAN URL", c.SANURL.State.String()
	}
	switch c.NTAuth {
	case mapping.NTAuthYes:
		s.NTAuth = "yes"
	case mapping.NTAuthNo:
		s.NTAuth = "no"
	default:
		s.NTAuth = "not evaluated"
	}
	return s
}

// upperHex returns b in upper-case hex.
func upperHex(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&0x0F]
	}
	return string(out)
}

// AccountSummary describes the account of a pair.
type AccountSummary struct {
	DN                string     `json:"dn"`
	SID               string     `json:"sid"`
	SAMAccountName    string     `json:"sAMAccountName,omitempty"`
	UserPrincipalName string     `json:"userPrincipalName,omitempty"`
	DNSHostName       string     `json:"dNSHostName,omitempty"`
	Class             string     `json:"class"`
	Disabled          bool       `json:"disabled,omitempty"`
	WhenCreated       *time.Time `json:"whenCreated,omitempty"`
	Origin            string     `json:"origin"`
}

func summarizeAccount(s *AccountSummary, a *DirectoryAccount, sid string) {
	*s = AccountSummary{DN: a.DN, SID: sid, SAMAccountName: a.SAMAccountName,
		UserPrincipalName: a.UserPrincipalName, DNSHostName: a.DNSHostName, Class: a.Class.String(),
		Disabled: a.Disabled, Origin: a.Origin}
	if !a.WhenCreated.IsZero() {
		s.WhenCreated = &a.WhenCreated
	}
}

// StoredValue is one of the account's altSecurityIdentities values,
// classified against the certificate (reference 3.7).
type StoredValue struct {
	Value string `json:"value"`
	Class string `json:"class"`
	Type  string `json:"type,omitempty"`
}

// Finding is the audit of one certificate/account pair, or of one
// certificate that leads to no account (Account nil, Outcome unmapped).
type Finding struct {
	Certificate CertificateSummary `json:"certificate"`
	Account     *AccountSummary    `json:"account,omitempty"`
	// FoundBy says how the certificate led to the account.
	FoundBy []string `json:"foundBy,omitempty"`
	// Outcome is the worst verdict across the DCs today; Worst is that
	// verdict and WorstDC the DC that gives it.
	Outcome Outcome `json:"outcome"`
	Worst   Brief   `json:"worst"`
	WorstDC string  `json:"worstDC"`
	// Compatibility is the worst outcome across the DCs in Compatibility
	// mode: allowed-with-event there and denied today is a weak mapping.
	Compatibility Outcome       `json:"compatibility"`
	DCs           []DCResult    `json:"dcs"`
	Values        []StoredValue `json:"values,omitempty"`
	Warnings      []string      `json:"warnings,omitempty"`
	Fixes         []Fix         `json:"fixes,omitempty"`
	Advice        []string      `json:"advice,omitempty"`
}

// Clone returns a copy of f that shares nothing the auditor reuses.
func (f *Finding) Clone() *Finding {
	g := *f
	if f.Account != nil {
		acct := *f.Account
		if acct.WhenCreated != nil { // points into the directory
			t := *acct.WhenCreated
			acct.WhenCreated = &t
		}
		g.Account = &acct
	}
	g.DCs = slices.Clone(f.DCs)
	for i := range g.DCs {
		g.DCs[i].Changes = slices.Clone(g.DCs[i].Changes)
	}
	g.Values = slices.Clone(f.Values)
	g.Warnings = slices.Clone(f.Warnings)
	g.Fixes = slices.Clone(f.Fixes)
	g.Advice = slices.Clone(f.Advice)
	return &g
}

// MarshalJSON writes the class in words.
func (f Fix) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		DN          string `json:"dn"`
		SID         string `json:"sid,omitempty"`
		Class       string `json:"class"`
		Value       string `json:"value"`
		Certificate string `json:"certificate"`
		Reason      string `json:"reason"`
	}{f.DN, f.SID, f.Class.String(), f.Value, f.Certificate, f.Reason})
}

// MarshalJSON writes the error as text.
func (r FixResult) MarshalJSON() ([]byte, error) {
	var e string
	if r.Err != nil {
		e = r.Err.Error()
	}
	return json.Marshal(struct {
		Fix    Fix       `json:"fix"`
		Status FixStatus `json:"status"`
		Error  string    `json:"error,omitempty"`
	}{r.Fix, r.Status, e})
}

// MarshalJSON writes the problem as origin and error text.
func (p Problem) MarshalJSON() ([]byte, error) {
	var e string
	if p.Err != nil {
		e = p.Err.Error()
	}
	return json.Marshal(struct {
		Origin string `json:"origin"`
		Error  string `json:"error"`
	}{p.Origin, e})
}
