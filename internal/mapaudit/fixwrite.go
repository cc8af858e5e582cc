package mapaudit

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/tegata-project/tegata/mapping"
)

// AccountFixes is the values to add to one account.
type AccountFixes struct {
	DN, SID string
	Class   mapping.AccountClass
	// Existing are the account's values before the fix.
	Existing []string
	// Add are the fixes to apply, one value each, deduplicated.
	Add []Fix
}

// PlanFixes groups fixes by account (by DN, ignoring case) in first-seen
// order, drops a value already among the account's existing values or
// proposed twice (compared ignoring case, as the directory does), and
// drops accounts left with nothing to add. existing may be nil.
func PlanFixes(fixes []Fix, existing func(dn string) []string) []AccountFixes {
	var out []AccountFixes
	pos := map[string]int{}
	for _, f := range fixes {
		k := strings.ToLower(f.DN)
		i, ok := pos[k]
		if !ok {
			af := AccountFixes{DN: f.DN, SID: f.SID, Class: f.Class}
			if existing != nil {
				af.Existing = existing(f.DN)
			}
			out = append(out, af)
			i = len(out) - 1
			pos[k] = i
		}
		af := &out[i]
		if containsFold(af.Existing, f.Value) {
			continue
		}
		dup := false
		for _, g := range af.Add {
			if strings.EqualFold(g.Value, f.Value) {
				dup = true
			}
		}
		if !dup {
			af.Add = append(af.Add, f)
		}
	}
	kept := out[:0]
	for _, af := range out {
		if len(af.Add) > 0 {
			kept = append(kept, af)
		}
	}
	return kept
}

// ExistingValues returns a lookup of the accounts' altSecurityIdentities
// by DN (ignoring case), for PlanFixes.
func (d *Directory) ExistingValues() func(dn string) []string {
	m := make(map[string][]string, len(d.Accounts))
	for i := range d.Accounts {
		m[strings.ToLower(d.Accounts[i].DN)] = d.Accounts[i].AltSecurityIdentities
	}
	return func(dn string) []string { return m[strings.ToLower(dn)] }
}

// ldifWidth is the column at which LDIF lines are folded (reference 3.8).
const ldifWidth = 76

// WriteLDIF writes the plan as LDIF modify records that ldifde -i and
// ldapmodify apply (reference 3.8): for each account
//
//	dn: <DN>
//	changetype: modify
//	add: altSecurityIdentities
//	altSecurityIdentities: <value>
//	-
//
// A DN or value that is not ASCII, starts with a space, ":" or "<", ends
// with a space or holds a line break or NUL is written base64 with "::";
// lines are folded at 76 columns with one leading space. With comments,
// each record is preceded by "#" lines giving the existing values and the
// reasons, which both tools skip.
func WriteLDIF(w io.Writer, plan []AccountFixes, comments bool) error {
	bw := bufio.NewWriter(w)
	for n, af := range plan {
		if n > 0 {
			bw.WriteString("\n")
		}
		if comments {
			for _, v := range af.Existing {
				writeComment(bw, "existing: "+v)
			}
			seen := map[string]bool{}
			for _, f := range af.Add {
				why := "for " + f.Certificate + ": " + f.Reason
				if !seen[why] {
					seen[why] = true
					writeComment(bw, why)
				}
			}
		}
		writeLDIFLine(bw, "dn", af.DN)
		bw.WriteString("changetype: modify\nadd: altSecurityIdentities\n")
		for _, f := range af.Add {
			writeLDIFLine(bw, "altSecurityIdentities", f.Value)
		}
		bw.WriteString("-\n")
	}
	return bw.Flush()
}

// writeComment writes one comment line, with line breaks flattened so the
// comment cannot end early.
func writeComment(w *bufio.Writer, s string) {
	s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	w.WriteString("# " + s + "\n")
}

func writeLDIFLine(w *bufio.Writer, attr, value string) {
	line := attr + ": " + value
	if ldifNeedsBase64(value) {
		line = attr + ":: " + base64.StdEncoding.EncodeToString([]byte(value))
	}
	// Fold: the first line holds 76 characters, each continuation a space
	// and 75 more.
	n := min(len(line), ldifWidth)
	w.WriteString(line[:n])
	for line = line[n:]; len(line) > 0; line = line[n:] {
		n = min(len(line), ldifWidth-1)
		w.WriteString("\n ")
		w.WriteString(line[:n])
	}
	w.WriteString("\n")
}

// ldifNeedsBase64 reports whether v is not an RFC 2849 SAFE-STRING, or
// ends with a space (which tools strip).
func ldifNeedsBase64(v string) bool {
	if v == "" {
		return false
	}
	switch v[0] {
	case ' ', ':', '<':
		return true
	}
	if v[len(v)-1] == ' ' {
		return true
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == 0 || c == '\n' || c == '\r' || c >= 0x80 {
			return true
		}
	}
	return false
}

// psQuote returns s as a PowerShell single-quoted string: nothing inside
// is expanded, and every quote character PowerShell accepts as a single
// quote (', and U+2018 to U+201B) is doubled.
func psQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201A', '\u201B':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// WritePowerShell writes the plan as ActiveDirectory module commands
// (reference 3.8), one per value:
//
//	Set-ADUser -Identity '<SID>' -Add @{altSecurityIdentities='<value>'}
//
// Set-ADComputer for computers and DCs; accounts are identified by SID
// (by DN when the SID is unknown); strings are single-quoted. Trust
// accounts are skipped with a comment.
func WritePowerShell(w io.Writer, plan []AccountFixes, comments bool) error {
	bw := bufio.NewWriter(w)
	values := 0
	for _, af := range plan {
		values += len(af.Add)
	}
	fmt.Fprintf(bw, "# tegata mapping fix: %d altSecurityIdentities values for %d accounts.\n", values, len(plan))
	bw.WriteString("# Review, then run with the ActiveDirectory module as an identity delegated to write altSecurityIdentities.\n")
	bw.WriteString("Import-Module ActiveDirectory\n")
	for _, af := range plan {
		bw.WriteString("\n")
		cmd := "Set-ADUser"
		switch af.Class {
		case mapping.ClassComputer, mapping.ClassDomainController:
			cmd = "Set-ADComputer"
		case mapping.ClassTrust:
			writeComment(bw, af.DN+": trust account, skipped")
			continue
		}
		id := af.SID
		if id == "" || id == (mapping.SID{}).String() {
			id = af.DN
		}
		writeComment(bw, af.DN)
		if comments {
			for _, v := range af.Existing {
				writeComment(bw, "existing: "+v)
			}
		}
		for _, f := range af.Add {
			if comments {
				writeComment(bw, "for "+f.Certificate+": "+f.Reason)
			}
			fmt.Fprintf(bw, "%s -Identity %s -Add @{altSecurityIdentities=%s}\n", cmd, psQuote(id), psQuote(f.Value))
		}
	}
	return bw.Flush()
}
