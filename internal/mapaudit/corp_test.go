package mapaudit

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/mapping"
)

const corpDir = "testdata/corp"

var corpAsOf = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)

// auditCorp audits testdata/corp as `tegata mapping audit --certs certs
// --ca-export issued.csv --ldif corp.ldf --dcs dcs.yaml --reg
// dc2=dc2-kdc.reg --as-of 2026-01-15` does.
func auditCorp(t *testing.T) (map[string]*Finding, []*Finding, *Summary, []Problem, *Directory) {
	t.Helper()
	dir, err := ReadLDIFFile(filepath.Join(corpDir, "corp.ldf"))
	if err != nil {
		t.Fatal(err)
	}
	probs := append([]Problem{}, dir.Problems...)
	ins, p := ReadCertificateFiles([]string{filepath.Join(corpDir, "certs")}, CertFileOptions{PFXPassword: "tegata-demo"})
	probs = append(probs, p...)
	p, err = ReadCertutilCSVFile(filepath.Join(corpDir, "issued.csv"), func(in CertificateInput) { ins = append(ins, in) })
	if err != nil {
		t.Fatal(err)
	}
	probs = append(probs, p...)
	data, _ := os.ReadFile(filepath.Join(corpDir, "dcs.yaml"))
	decls, p, err := ParseDCDeclarations(data, "dcs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	probs = append(probs, p...)
	data, _ = os.ReadFile(filepath.Join(corpDir, "dc2-kdc.reg"))
	reg, p, err := ParseRegExport(data, "dc2-kdc.reg")
	if err != nil {
		t.Fatal(err)
	}
	probs = append(probs, p...)
	dcs, p := ResolveDCs(dir.DomainControllers, decls, []RegAssignment{{"dc2", reg}}, corpAsOf)
	probs = append(probs, p...)
	a := NewAuditor(dir, Options{AsOf: corpAsOf, DCs: dcs})
	byAccount := map[string]*Finding{}
	var all []*Finding
	probs = append(probs, a.Run(ins, func(f *Finding) {
		g := f.Clone()
		all = append(all, g)
		key := "-" + f.Certificate.Subject
		if f.Account != nil {
			key = f.Account.SAMAccountName
		}
		byAccount[key] = g
	})...)
	return byAccount, all, a.Summary(), probs, dir
}

func TestCorpTestdata(t *testing.T) {
	if *update {
		writeCorpTestdata(t, corpDir)
	}
	byAccount, _, sum, probs, _ := auditCorp(t)
	if len(probs) != 1 || !strings.Contains(probs[0].Error(), "broken.pem:1") {
		t.Errorf("problems %v, want broken.pem:1 only", probs)
	}
	if len(sum.DCs) != 2 || !strings.Contains(sum.DCs[1].State, "Compatibility") || !strings.Contains(sum.DCs[0].State, "Full Enforcement") {
		t.Fatalf("DCs %+v", sum.DCs)
	}
	want := map[string]struct {
		outcome, compat Outcome
		path            mapping.Path
		fixes           int
		warning         string
	}{
		"alice":       {OutcomeAllowed, OutcomeAllowed, mapping.PathSIDMatch, 0, ""},
		"bob":         {OutcomeDenied, OutcomeLogged, mapping.PathWeak, 2, ""},
		"carol":       {OutcomeAllowed, OutcomeAllowed, mapping.PathStrongExplicit, 0, ""},
		"dave":        {OutcomeDenied, OutcomeDenied, mapping.PathSIDMismatch, 0, ""},
		"frank":       {OutcomeDenied, OutcomeLogged, mapping.PathWeak, 2, "normalisation"},
		"WS01$":       {OutcomeDenied, OutcomeLogged, mapping.PathWeak, 2, ""},
		"grace":       {OutcomeDenied, OutcomeDenied, mapping.PathWeak, 2, ""},
		"harry":       {OutcomeAllowed, OutcomeAllowed, mapping.PathStrongExplicit, 0, "more than one account"},
		"harry-admin": {OutcomeAllowed, OutcomeAllowed, mapping.PathStrongExplicit, 0, "more than one account"},
		"ivan":        {OutcomeDenied, OutcomeDenied, mapping.PathNTAuthDenied, 0, ""},
		"judy":        {OutcomeAllowed, OutcomeAllowed, mapping.PathSIDMatch, 0, "disabled"},
	}
	for name, w := range want {
		f := byAccount[name]
		if f == nil {
			t.Errorf("%s: no finding", name)
			continue
		}
		if f.Outcome != w.outcome || f.Compatibility != w.compat || f.Worst.Path != w.path || len(f.Fixes) != w.fixes {
			t.Errorf("%s: %s/%s %s with %d fixes, want %s/%s %s with %d", name, f.Outcome, f.Compatibility, f.Worst.Path, len(f.Fixes), w.outcome, w.compat, w.path, w.fixes)
		}
		if w.warning != "" && !strings.Contains(strings.Join(f.Warnings, "\n"), w.warning) {
			t.Errorf("%s: warnings %q, want one about %s", name, f.Warnings, w.warning)
		}
	}
	// grace was created after her certificate: the one-year compensation of
	// dc2-kdc.reg lets dc2 allow her with event 39; dc1 ignores it.
	if g := byAccount["grace"]; g != nil && (g.DCs[1].Today.Outcome != OutcomeLogged || g.DCs[1].Today.EventID != 39) {
		t.Errorf("grace on dc2: %+v", g.DCs[1].Today)
	}
	if u := byAccount["-CN=www.contoso.com"]; u == nil || u.Outcome != OutcomeUnmapped || u.Worst.KerberosError != mapping.KDCErrCPrincipalUnknown.String() {
		t.Errorf("www: %+v", u)
	}
	if f := byAccount["alice"]; f != nil && strings.Join(f.FoundBy, ",") != "SID,UPN,userCertificate" {
		t.Errorf("alice found by %v", f.FoundBy)
	}
	// A pair that holds in every scenario still reports each scenario's mode.
	for _, name := range []string{"alice", "carol"} {
		if f := byAccount[name]; f != nil && !strings.Contains(f.DCs[0].Compatibility.Mode, "Compatibility") {
			t.Errorf("%s on dc1: compatibility verdict in mode %q", name, f.DCs[0].Compatibility.Mode)
		}
	}
	if sum.Issuers != 2 || sum.Pairs != 11 || sum.Unmapped != 1 || len(sum.DuplicateValues) != 1 {
		t.Errorf("summary %+v", sum)
	}
}

func TestCorpFixGolden(t *testing.T) {
	_, all, _, _, dir := auditCorp(t)
	var fixes []Fix
	for _, f := range all {
		fixes = append(fixes, f.Fixes...)
	}
	plan := PlanFixes(fixes, dir.ExistingValues())
	for _, g := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"fix.ldf", func(b *bytes.Buffer) error { return WriteLDIF(b, plan, false) }},
		{"fix.ps1", func(b *bytes.Buffer) error { return WritePowerShell(b, plan, false) }},
	} {
		var b bytes.Buffer
		if err := g.write(&b); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(corpDir, g.name+".golden")
		if *update {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs from %s:\n%s", g.name, path, b.String())
		}
	}
	// The LDIF reads back: one modify record per account, adding exactly
	// the planned values.
	var b bytes.Buffer
	WriteLDIF(&b, plan, true)
	recs, probs, err := ParseLDIF(b.Bytes(), "fix.ldf")
	if err != nil || len(probs) > 0 || len(recs) != len(plan) {
		t.Fatalf("read back: %v %v, %d records for %d accounts", err, probs, len(recs), len(plan))
	}
	for i, r := range recs {
		if r.DN != plan[i].DN || r.ChangeType != "modify" || len(r.Mods) != 1 || r.Mods[0].Op != "add" || len(r.Mods[0].Values) != len(plan[i].Add) {
			t.Fatalf("record %d: %+v", i, r)
		}
		for k, v := range r.Mods[0].Values {
			if string(v) != plan[i].Add[k].Value {
				t.Errorf("record %d value %d: %q, want %q", i, k, v, plan[i].Add[k].Value)
			}
		}
	}
}

// TestReusedFindingLeaksNothing audits the corp certificates in two orders:
// each pair's finding must be the same bytes, whatever pair the reused
// Finding held before.
func TestReusedFindingLeaksNothing(t *testing.T) {
	dir, err := ReadLDIFFile(filepath.Join(corpDir, "corp.ldf"))
	if err != nil {
		t.Fatal(err)
	}
	ins, _ := ReadCertificateFiles([]string{filepath.Join(corpDir, "certs")}, CertFileOptions{PFXPassword: "tegata-demo"})
	dcs, _ := ResolveDCs(dir.DomainControllers, nil, nil, corpAsOf)
	audit := func(order []CertificateInput) map[string]string {
		out := map[string]string{}
		a := NewAuditor(dir, Options{AsOf: corpAsOf, DCs: dcs})
		a.Run(order, func(f *Finding) {
			key := f.Certificate.Origin + "|"
			if f.Account != nil {
				key += f.Account.DN
			}
			out[key] = string(f.AppendJSON(nil))
		})
		return out
	}
	forward := audit(slices.Clone(ins))
	reversed := slices.Clone(ins)
	slices.Reverse(reversed)
	backward := audit(reversed)
	if len(forward) < 8 || len(forward) != len(backward) {
		t.Fatalf("%d findings forward, %d backward", len(forward), len(backward))
	}
	for k, v := range forward {
		if backward[k] != v {
			t.Errorf("%s differs with the order of the audit:\nforward  %s\nbackward %s", k, v, backward[k])
		}
	}
}
