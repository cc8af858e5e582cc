package cli

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tegata-project/tegata/internal/mapaudit"
	"github.com/tegata-project/tegata/mapping"
)

// auditReport writes an audit as it runs: findings are streamed, so a
// large audit never holds them all.
type auditReport struct {
	format string
	all    bool
	bw     *bufio.Writer
	tw     *tabwriter.Writer
	cw     *csv.Writer
	n      int
	err    error
	// buf is the JSON of the current finding, and row and the lists the CSV
	// row, reused.
	buf                         []byte
	row, labels, fixes, changes []string
}

func newAuditReport(w io.Writer, format string, all bool) (*auditReport, error) {
	if format == "text" {
		format = "table"
	}
	if format != "table" && format != "json" && format != "csv" {
		return nil, usageErr("--output %q: use table, json or csv", format)
	}
	r := &auditReport{format: format, all: all, bw: bufio.NewWriterSize(w, 64<<10)}
	return r, nil
}

var csvHeader = []string{"certificate", "subject", "issuer", "serial", "thumbprint", "not_after", "requester_hint",
	"account_dn", "account_sid", "sam_account_name", "upn", "class", "disabled", "found_by", "outcome", "compatibility",
	"worst_dc", "path", "kerberos_error", "event", "mapping", "mapping_type", "strength", "labels", "warnings",
	"fixes", "advice", "changes"}

func (r *auditReport) begin(l *loaded) {
	switch r.format {
	case "json":
		fmt.Fprintf(r.bw, "{\n  \"asOf\": %q,\n  \"dcs\": ", l.asOf.Format(time.DateOnly))
		type dcView struct {
			Name    string `json:"name"`
			State   string `json:"state"`
			Source  string `json:"source"`
			Assumed bool   `json:"assumed,omitempty"`
		}
		var dcs []dcView
		for _, d := range l.dcs {
			dcs = append(dcs, dcView{d.Name, d.Describe(), d.Source, d.Assumed})
		}
		b, _ := json.Marshal(dcs)
		r.bw.Write(b)
		r.bw.WriteString(",\n  \"findings\": [")
	case "csv":
		r.cw = csv.NewWriter(r.bw)
		r.cw.Write(csvHeader)
	default:
		fmt.Fprintf(r.bw, "Audit as of %s against %d DC(s):\n", l.asOf.Format(time.DateOnly), len(l.dcs))
		for _, d := range l.dcs {
			fmt.Fprintf(r.bw, "  %s: %s [%s]\n", d.Name, d.Describe(), d.Source)
		}
		r.bw.WriteString("\n")
		r.tw = tabwriter.NewWriter(r.bw, 0, 4, 2, ' ', 0)
		fmt.Fprintln(r.tw, "OUTCOME\tCOMPATIBILITY\tCERTIFICATE\tACCOUNT\tFOUND BY\tPATH\tEVENT\tERROR\tWORST DC\tFIXES\tNOTES")
	}
}

func accountName(f *mapaudit.Finding) string {
	switch {
	case f.Account == nil:
		return "-"
	case f.Account.SAMAccountName != "":
		return f.Account.SAMAccountName
	}
	return f.Account.DN
}

func (r *auditReport) finding(f *mapaudit.Finding) {
	if r.err != nil {
		return
	}
	switch r.format {
	case "json":
		r.buf = r.buf[:0]
		if r.n > 0 {
			r.buf = append(r.buf, ',')
		}
		r.buf = f.AppendJSON(append(r.buf, "\n    "...))
		r.bw.Write(r.buf)
	case "csv":
		r.cw.Write(r.csvRow(f))
	default:
		if f.Outcome == mapaudit.OutcomeAllowed && f.Compatibility == mapaudit.OutcomeAllowed && len(f.Warnings) == 0 && !r.all {
			return
		}
		// Notes are the last cell: not tab-terminated, they do not widen
		// the columns. Advice is shown when no fix is proposed.
		notes := f.Warnings
		if len(f.Fixes) == 0 {
			notes = append(notes[:len(notes):len(notes)], f.Advice...)
		}
		fmt.Fprintf(r.tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", f.Outcome, f.Compatibility, f.Certificate.Origin,
			accountName(f), dash(strings.Join(f.FoundBy, "+")), f.Worst.Path, dash(f.Worst.Event()), dash(f.Worst.KerberosError),
			f.WorstDC, len(f.Fixes), strings.Join(notes, " | "))
		if r.n%500 == 499 {
			r.tw.Flush()
		}
	}
	r.n++
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// csvRow returns the row of f; the row and its lists are reused for the
// next finding (csv.Writer.Write keeps nothing).
func (r *auditReport) csvRow(f *mapaudit.Finding) []string {
	c := f.Certificate
	var dn, sid, sam, upn, class, disabled string
	if a := f.Account; a != nil {
		dn, sid, sam, upn, class, disabled = a.DN, a.SID, a.SAMAccountName, a.UserPrincipalName, a.Class, strconv.FormatBool(a.Disabled)
	}
	labels, fixes, changes := r.labels[:0], r.fixes[:0], r.changes[:0]
	for _, l := range f.Worst.Labels {
		labels = append(labels, string(l))
	}
	for _, x := range f.Fixes {
		fixes = append(fixes, x.Value)
	}
	for _, d := range f.DCs {
		for _, ch := range d.Changes {
			changes = append(changes, d.DC+" "+ch.Date+": "+string(ch.Outcome)+" ("+string(ch.Path)+")")
		}
	}
	r.labels, r.fixes, r.changes = labels, fixes, changes
	event := ""
	if f.Worst.EventID != 0 {
		event = strconv.Itoa(f.Worst.EventID)
	}
	r.row = append(r.row[:0], c.Origin, c.Subject, c.Issuer, c.Serial, c.Thumbprint, c.NotAfter.Format(time.RFC3339), c.Requester,
		dn, sid, sam, upn, class, disabled, strings.Join(f.FoundBy, "+"), string(f.Outcome), string(f.Compatibility),
		f.WorstDC, string(f.Worst.Path), f.Worst.KerberosError, event, f.Worst.Mapping, f.Worst.MappingType, f.Worst.Strength,
		strings.Join(labels, "; "), strings.Join(f.Warnings, "; "), strings.Join(fixes, "; "), strings.Join(f.Advice, "; "),
		strings.Join(changes, "; "))
	return r.row
}

func (r *auditReport) end(l *loaded, s *mapaudit.Summary, stderr io.Writer) error {
	if r.err != nil {
		return r.err
	}
	switch r.format {
	case "json":
		r.bw.WriteString("\n  ],\n  \"problems\": ")
		probs := l.problems
		if probs == nil {
			probs = []mapaudit.Problem{}
		}
		b, _ := json.Marshal(probs)
		r.bw.Write(b)
		r.bw.WriteString(",\n  \"summary\": ")
		b, _ = json.MarshalIndent(s, "  ", "  ")
		r.bw.Write(b)
		r.bw.WriteString("\n}\n")
	case "csv":
		r.cw.Flush()
		for _, p := range l.problems {
			fmt.Fprintln(stderr, "tegata: problem:", p.Error())
		}
		if err := r.cw.Error(); err != nil {
			return err
		}
	default:
		r.tw.Flush()
		if r.n == 0 {
			r.bw.WriteString("(no finding)\n")
		}
		writeProblemsAndSummary(r.bw, l, s)
	}
	return r.bw.Flush()
}

func writeProblemsAndSummary(w *bufio.Writer, l *loaded, s *mapaudit.Summary) {
	if len(l.problems) > 0 {
		fmt.Fprintf(w, "\nPROBLEMS: inputs that could not be used (the rest was audited): %d\n", len(l.problems))
		for _, p := range l.problems {
			fmt.Fprintf(w, "  %s\n", p.Error())
		}
	}
	if len(s.DuplicateValues) > 0 {
		fmt.Fprintf(w, "\nDUPLICATE altSecurityIdentities VALUES (name resolution by these values is ambiguous)\n")
		for _, d := range s.DuplicateValues {
			fmt.Fprintf(w, "  %s\n    held by: %s\n", d.Value, strings.Join(d.Accounts, "; "))
		}
	}
	fmt.Fprintf(w, "\nSUMMARY as of %s\n", s.AsOf)
	fmt.Fprintf(w, "  certificates audited: %d (CA certificates: %d, read twice: %d, expired and skipped: %d); accounts: %d\n",
		s.Certificates, s.Issuers, s.DuplicateCertificates, s.Expired, s.Accounts)
	fmt.Fprintf(w, "  pairs: %d; certificates mapping to no account: %d\n", s.Pairs, s.Unmapped)
	outcomes := func(m map[mapaudit.Outcome]int) string {
		return fmt.Sprintf("allowed %d, allowed with an event %d, denied %d", m[mapaudit.OutcomeAllowed], m[mapaudit.OutcomeLogged], m[mapaudit.OutcomeDenied])
	}
	fmt.Fprintf(w, "  worst case across DCs today: %s\n", outcomes(s.ByOutcome))
	fmt.Fprintf(w, "  in Compatibility mode:       %s\n", outcomes(s.Compatibility))
	fmt.Fprintf(w, "  altSecurityIdentities values proposed: %d (tegata mapping fix prints them)\n", s.Fixes)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\n  DC\tALLOWED\tWITH EVENT\tDENIED\tUNMAPPED\tBY PATH\tBY EVENT")
	for _, d := range s.DCs {
		var paths, events []string
		for _, k := range sortedKeys(d.ByPath) {
			paths = append(paths, fmt.Sprintf("%s %d", k, d.ByPath[k]))
		}
		for _, k := range sortedKeys(d.ByEvent) {
			events = append(events, fmt.Sprintf("%s %d", k, d.ByEvent[k]))
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%s\t%s\n", d.DC, d.ByOutcome[mapaudit.OutcomeAllowed], d.ByOutcome[mapaudit.OutcomeLogged],
			d.ByOutcome[mapaudit.OutcomeDenied], d.ByOutcome[mapaudit.OutcomeUnmapped], dash(strings.Join(paths, ", ")), dash(strings.Join(events, ", ")))
	}
	tw.Flush()
}

// altSecIDView is one certificate's values for `mapping altsecid`.
type altSecIDView struct {
	Certificate string          `json:"certificate"`
	Subject     string          `json:"subject"`
	Issuer      string          `json:"issuer"`
	Values      []altSecIDValue `json:"values"`
}

type altSecIDValue struct {
	Value    string          `json:"value"`
	Type     string          `json:"type"`
	Strength string          `json:"strength"`
	Emit     bool            `json:"emit"`
	Labels   []mapping.Label `json:"labels,omitempty"`
}

func writeAltSecIDs(w io.Writer, certs []mapaudit.CertificateInput, asJSON bool) error {
	var views []altSecIDView
	for _, in := range certs {
		c := in.Cert
		emit := map[string]bool{}
		for _, v := range mapping.StrongMappings(c) {
			emit[v] = true
		}
		v := altSecIDView{Certificate: in.Origin, Subject: c.Subject, Issuer: c.Issuer}
		for _, cd := range mapping.Candidates(c) {
			v.Values = append(v.Values, altSecIDValue{cd.Value, cd.Type.String(), cd.Type.Strength().String(), emit[cd.Value], cd.Labels})
		}
		// Strong first, the values tegata emits first among them.
		sort.SliceStable(v.Values, func(i, j int) bool {
			a, b := v.Values[i], v.Values[j]
			if a.Strength != b.Strength {
				return a.Strength == "strong"
			}
			return a.Emit && !b.Emit
		})
		views = append(views, v)
	}
	if asJSON {
		return printJSON(w, views)
	}
	bw := bufio.NewWriter(w)
	for n, v := range views {
		if n > 0 {
			bw.WriteString("\n")
		}
		fmt.Fprintf(bw, "%s\n  subject %s\n  issuer  %s\n", v.Certificate, v.Subject, v.Issuer)
		tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
		for _, x := range v.Values {
			mark := ""
			if x.Emit {
				mark = "emit"
			}
			var labels []string
			for _, l := range x.Labels {
				labels = append(labels, string(l))
			}
			note := ""
			if len(labels) > 0 {
				note = "  [" + strings.Join(labels, "; ") + "]"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s%s\n", x.Strength, mark, x.Type, x.Value, note)
		}
		tw.Flush()
	}
	return bw.Flush()
}

func writeExplain(w io.Writer, asJSON bool, in *mapaudit.CertificateInput, acct *mapaudit.DirectoryAccount, dcs []mapaudit.DC, verdicts []mapping.Verdict) error {
	type dcVerdict struct {
		DC      string          `json:"dc"`
		State   string          `json:"state"`
		Verdict mapaudit.Brief  `json:"verdict"`
		Steps   []string        `json:"steps"`
		Events  []mapping.Event `json:"events,omitempty"`
	}
	var out []dcVerdict
	for i, v := range verdicts {
		b := briefOf(&v)
		out = append(out, dcVerdict{dcs[i].Name, dcs[i].Describe(), b, v.Steps, v.Events})
	}
	if asJSON {
		return printJSON(w, map[string]any{"certificate": in.Origin, "subject": in.Cert.Subject, "account": acct.DN, "sid": acct.ObjectSID.String(), "dcs": out})
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "certificate %s (%s)\naccount     %s (%s, %s)\n", in.Origin, in.Cert.Subject, acct.DN, acct.ObjectSID, acct.Class)
	for _, d := range out {
		fmt.Fprintf(bw, "\n%s: %s\n", d.DC, d.State)
		for n, s := range d.Steps {
			fmt.Fprintf(bw, "  %d. %s\n", n+1, s)
		}
		fmt.Fprintf(bw, "  => %s", d.Verdict.Outcome)
		if d.Verdict.KerberosError != "" {
			fmt.Fprintf(bw, ", %s", d.Verdict.KerberosError)
		}
		if e := d.Verdict.Event(); e != "" {
			fmt.Fprintf(bw, ", event %s", e)
		}
		fmt.Fprintf(bw, " (%s)\n", d.Verdict.Path)
		for _, l := range d.Verdict.Labels {
			fmt.Fprintf(bw, "  label: %s\n", l)
		}
	}
	return bw.Flush()
}

// briefOf reduces a verdict for display; it mirrors the audit's view.
func briefOf(v *mapping.Verdict) mapaudit.Brief { return mapaudit.BriefOf(v) }

func writeFixResults(w io.Writer, asJSON bool, results []mapaudit.FixResult) error {
	failed := 0
	for _, r := range results {
		if r.Status == mapaudit.FixFailed {
			failed++
		}
	}
	if asJSON {
		if err := printJSON(w, results); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STATUS\tACCOUNT\tVALUE\tERROR")
		for _, r := range results {
			e := ""
			if r.Err != nil {
				e = r.Err.Error()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Status, r.Fix.DN, r.Fix.Value, dash(e))
		}
		tw.Flush()
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d values could not be added", failed, len(results))}
	}
	return nil
}
