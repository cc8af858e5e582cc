package mapaudit

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"time"

	"github.com/tegata-project/tegata/mapping"
)

// Options configure an audit.
type Options struct {
	// AsOf is the scenario date; DCs without a declared patch level are
	// assumed patched up to it.
	AsOf time.Time
	// DCs are the domain controllers to predict for (see ResolveDCs).
	DCs []DC
	// IncludeExpired audits certificates that expired before AsOf; they
	// are counted and skipped otherwise.
	IncludeExpired bool
	// Progress, when not nil, is called with the number of certificates
	// done every 1,000 certificates.
	Progress func(done int)
}

// Auditor predicts the verdict of every certificate/account pair on every
// DC. Build it with NewAuditor, then call Run once.
type Auditor struct {
	opts  Options
	dir   *Directory
	idx   *index
	scen  scenarios
	plans []*plan
	// planOf maps each DC to its plan: DCs with identical states share one.
	planOf []int
	// ntauth holds the raw subjects of the NTAuth CAs; nil when the
	// directory source did not include the store.
	ntauth map[string]bool
	// issuers maps a CA's raw subject to its SHA-1 thumbprint.
	issuers map[string][20]byte
	seen    map[[20]byte]struct{}
	dups    map[string]bool
	sum     Summary
	buf     []match
	results []planResult // pair's scratch, one per plan
	done    int
	key     []byte // scratch for folded keys
	// finding and account are reused for every finding emitted.
	finding Finding
	account AccountSummary
}

// planResult is one plan's verdicts for the pair being audited.
type planResult struct {
	today, compat Brief
	changes       []Change
}

// NewAuditor indexes dir for the audit.
func NewAuditor(dir *Directory, opts Options) *Auditor {
	if dir == nil {
		dir = &Directory{}
	}
	a := &Auditor{opts: opts, dir: dir, idx: newIndex(dir.Accounts), issuers: map[string][20]byte{},
		seen: map[[20]byte]struct{}{}, dups: map[string]bool{}}
	a.sum.init(opts)
	a.sum.Accounts = len(dir.Accounts)
	for _, dc := range opts.DCs {
		found := -1
		for k, p := range a.plans {
			if sameState(p.state, dc.State) {
				found = k
			}
		}
		if found < 0 {
			a.plans = append(a.plans, a.scen.plan(dc.State))
			found = len(a.plans) - 1
		}
		a.planOf = append(a.planOf, found)
	}
	a.scen.finish()
	if dir.NTAuth != nil {
		a.ntauth = map[string]bool{}
		for _, der := range dir.NTAuth {
			if c, err := mapping.ParseCertificate(der); err == nil {
				a.ntauth[string(c.RawSubject)] = true
				a.issuers[string(c.RawSubject)] = c.KeyHashes.Thumbprint
			}
		}
	}
	for _, d := range a.idx.duplicates() {
		a.sum.DuplicateValues = append(a.sum.DuplicateValues, d)
		a.dups[string(foldKey(nil, d.Value))] = true
	}
	return a
}

func sameState(a, b mapping.DCState) bool {
	return a.OS == b.OS && a.LastUpdate.Equal(b.LastUpdate) && a.AsOf.Equal(b.AsOf) && a.ESU == b.ESU &&
		a.StrongCertificateBindingEnforcement == b.StrongCertificateBindingEnforcement &&
		a.CertificateBackdatingCompensation == b.CertificateBackdatingCompensation &&
		a.AllowNtAuthPolicyBypass == b.AllowNtAuthPolicyBypass && a.SANURLSupport == b.SANURLSupport &&
		len(a.StrongNameRules) == 0 && len(b.StrongNameRules) == 0
}

// Run audits ins, then the certificates the directory's accounts publish;
// see Add and Finish. The CA certificates among ins give issuer thumbprints
// to all of them, whatever their order. Run releases each input after
// auditing it.
func (a *Auditor) Run(ins []CertificateInput, emit func(*Finding)) []Problem {
	for i := range ins {
		if c := ins[i].Cert; c != nil && isCACertificate(c.Raw) {
			a.issuers[string(c.RawSubject)] = c.KeyHashes.Thumbprint
		}
	}
	for i := range ins {
		in := ins[i]
		ins[i] = CertificateInput{}
		a.Add(in, emit)
	}
	return a.Finish(emit)
}

// Add audits one certificate and calls emit with each of its findings. The
// Finding and what it holds are reused for the next one: emit must copy
// what it keeps (see Finding.Clone). A certificate seen before (same
// SHA-1 thumbprint) is counted and skipped. A CA certificate (basic
// constraints with cA set) is not audited: it gives its thumbprint to the
// certificates it issued that are audited after it.
func (a *Auditor) Add(in CertificateInput, emit func(*Finding)) {
	c := in.Cert
	if c == nil {
		return
	}
	if isCACertificate(c.Raw) {
		if _, dup := a.seen[c.KeyHashes.Thumbprint]; !dup {
			a.seen[c.KeyHashes.Thumbprint] = struct{}{}
			a.issuers[string(c.RawSubject)] = c.KeyHashes.Thumbprint
			a.sum.Issuers++
		}
		return
	}
	a.audit(&in, emit)
	a.done++
	if a.opts.Progress != nil && a.done%1000 == 0 {
		a.opts.Progress(a.done)
	}
}

// Finish audits the certificates that the directory's accounts publish
// (userCertificate) and that were not audited already, and returns the
// problems met.
func (a *Auditor) Finish(emit func(*Finding)) []Problem {
	var probs []Problem
	for n := range a.dir.Accounts {
		acct := &a.dir.Accounts[n]
		for k, der := range acct.Certificates {
			if _, dup := a.seen[sha1.Sum(der)]; dup {
				continue
			}
			origin := fmt.Sprintf("%s (userCertificate %d)", acct.DN, k+1)
			c, err := mapping.ParseCertificate(der)
			if err != nil {
				probs = append(probs, Problem{Origin: origin, Err: fmt.Errorf("%w: the account publishes a certificate that does not parse", err)})
				continue
			}
			a.Add(CertificateInput{Cert: c, Origin: origin}, emit)
		}
	}
	return probs
}

// Summary returns the counts of the audit so far.
func (a *Auditor) Summary() *Summary { return &a.sum }

// Explain returns the full verdicts, with their steps, of cert for acct
// (nil: no account) on each DC of the audit.
func (a *Auditor) Explain(cert *mapping.Certificate, acct *mapping.Account) []mapping.Verdict {
	a.resolveIssuer(cert)
	out := make([]mapping.Verdict, len(a.opts.DCs))
	for i, dc := range a.opts.DCs {
		out[i] = mapping.Decide(cert, acct, dc.State)
	}
	return out
}

// resolveIssuer sets the NTAuth state and issuer thumbprint that the
// certificate cannot tell, from the NTAuth store and the CA certificates
// read.
func (a *Auditor) resolveIssuer(c *mapping.Certificate) {
	if a.ntauth != nil && c.NTAuth == mapping.NTAuthUnknown {
		c.NTAuth = mapping.NTAuthNo
		if a.ntauth[string(c.RawIssuer)] {
			c.NTAuth = mapping.NTAuthYes
		}
	}
	if t, ok := a.issuers[string(c.RawIssuer)]; ok && c.IssuerThumbprint == nil {
		c.IssuerThumbprint = t[:]
	}
}

func (a *Auditor) audit(in *CertificateInput, emit func(*Finding)) {
	c := in.Cert
	t := c.KeyHashes.Thumbprint
	if _, dup := a.seen[t]; dup {
		a.sum.DuplicateCertificates++
		return
	}
	a.seen[t] = struct{}{}
	if !a.opts.IncludeExpired && !a.opts.AsOf.IsZero() && c.NotAfter.Before(a.opts.AsOf) {
		a.sum.Expired++
		return
	}
	a.sum.Certificates++
	a.resolveIssuer(c)
	a.buf = a.idx.find(c, a.buf)
	if len(a.buf) == 0 {
		f := a.unmapped(in)
		a.sum.add(f, a.opts.DCs)
		emit(f)
		return
	}
	for _, m := range a.buf {
		f := a.pair(in, int(m.acct), m.via)
		a.sum.add(f, a.opts.DCs)
		emit(f)
	}
}

// newFinding resets the reused Finding for in, keeping the capacity of its
// slices.
func (a *Auditor) newFinding(in *CertificateInput) *Finding {
	f := &a.finding
	dcs := f.DCs[:0]
	if dcs == nil {
		dcs = make([]DCResult, 0, len(a.opts.DCs))
	}
	*f = Finding{Certificate: summarizeCertificate(in), DCs: dcs, Values: f.Values[:0], Warnings: f.Warnings[:0],
		Fixes: f.Fixes[:0], Advice: f.Advice[:0]}
	return f
}

func (a *Auditor) unmapped(in *CertificateInput) *Finding {
	f := a.newFinding(in)
	f.Outcome, f.Compatibility = OutcomeUnmapped, OutcomeUnmapped
	briefs := make([]Brief, len(a.plans))
	for k, p := range a.plans {
		v := mapping.DecideBrief(in.Cert, nil, p.state)
		briefs[k] = brief(&v)
		briefs[k].Outcome = OutcomeUnmapped
	}
	for i, dc := range a.opts.DCs {
		b := briefs[a.planOf[i]]
		f.DCs = append(f.DCs, DCResult{DC: dc.Name, Today: b, Compatibility: b})
	}
	if len(f.DCs) > 0 {
		f.Worst, f.WorstDC = f.DCs[0].Today, f.DCs[0].DC
	} else {
		f.DCs = nil // written as null, as before findings were reused
	}
	f.Advice = append(f.Advice, "no account in the directory matches the certificate's SID, UPN, DNS name, altSecurityIdentities or userCertificate: the KDC answers "+f.Worst.KerberosError+"; check that the export covers the account's domain")
	if in.Requester != "" {
		f.Advice = append(f.Advice, "the CA database names "+in.Requester+" as requester: that is the enrolling identity (for example an NDES or Intune connector account), a hint and not the owner")
	}
	return f
}

func (a *Auditor) pair(in *CertificateInput, n int, v via) *Finding {
	c := in.Cert
	acct := &a.idx.accounts[n]
	if len(acct.AltSecurityIdentities) > 0 {
		c.RenderedCandidates() // once, for Decide and the stored values
	}
	f := a.newFinding(in)
	summarizeAccount(&a.account, acct, a.idx.sids[n])
	f.Account, f.FoundBy = &a.account, v.names()
	if len(a.results) < len(a.plans) {
		a.results = make([]planResult, len(a.plans))
	}
	results := a.results[:len(a.plans)]
	a.scen.next()
	for k, p := range a.plans {
		r := &results[k]
		r.today, r.compat, r.changes = a.scen.evaluate(p, c, &acct.Account, r.changes)
	}
	worst, compat := -1, -1
	for i, dc := range a.opts.DCs {
		r := &results[a.planOf[i]]
		var changes []Change
		if len(r.changes) > 0 {
			changes = r.changes // reused for the next pair, like the Finding
		}
		f.DCs = append(f.DCs, DCResult{DC: dc.Name, Today: r.today, Compatibility: r.compat, Changes: changes})
		if worst < 0 || r.today.Outcome.severity() > f.DCs[worst].Today.Outcome.severity() {
			worst = i
		}
		if compat < 0 || r.compat.Outcome.severity() > f.DCs[compat].Compatibility.Outcome.severity() {
			compat = i
		}
	}
	if worst >= 0 {
		f.Worst, f.WorstDC, f.Outcome = f.DCs[worst].Today, f.DCs[worst].DC, f.DCs[worst].Today.Outcome
		f.Compatibility = f.DCs[compat].Compatibility.Outcome
	}
	for _, val := range acct.AltSecurityIdentities {
		m := mapping.ClassifyValue(c, c.RenderedCandidates(), val)
		sv := StoredValue{Value: val, Class: m.Class.String()}
		if m.Type != mapping.TypeUnknown {
			sv.Type = m.Type.String()
		}
		f.Values = append(f.Values, sv)
		switch m.Class {
		case mapping.MatchNormalisedOnly:
			f.Warnings = append(f.Warnings, fmt.Sprintf("stored value %q matches this certificate only after normalisation: the KDC compares exactly (ignoring case), so this mapping is broken", val))
		case mapping.MatchUnparseable:
			f.Warnings = append(f.Warnings, fmt.Sprintf("stored value %q has none of the known forms", truncate(val, 120)))
		}
		a.key = foldKey(a.key[:0], val)
		if a.dups[string(a.key)] {
			f.Warnings = append(f.Warnings, fmt.Sprintf("value %q is held by more than one account: name resolution by this value is ambiguous", truncate(val, 120)))
		}
	}
	for _, l := range f.Worst.Labels {
		if l == mapping.LabelWrongSIDIgnored {
			f.Warnings = append(f.Warnings, "the certificate carries another SID than the account's; allowed only because a strong explicit mapping skips the SID check: re-issue the certificate")
		}
	}
	if acct.Disabled {
		f.Warnings = append(f.Warnings, "the account is disabled (ACCOUNTDISABLE): predicted anyway")
	}
	a.propose(f, in, acct, a.idx.sids[n])
	return f
}

// oidBasicConstraints is 2.5.29.19 as DER: tag, length, contents.
var oidBasicConstraints = []byte{0x06, 0x03, 0x55, 0x1D, 0x13}

// isCACertificate reports whether der has basic constraints with cA set.
// It looks for the extension's OID and reads the few bytes after it rather
// than parsing the certificate again: Extension ::= SEQUENCE { OID,
// critical BOOLEAN OPTIONAL, OCTET STRING { SEQUENCE { cA BOOLEAN ... } } }.
func isCACertificate(der []byte) bool {
	for rest := der; ; {
		i := bytes.Index(rest, oidBasicConstraints)
		if i < 0 {
			return false
		}
		p := rest[i+len(oidBasicConstraints):]
		rest = p
		if len(p) >= 3 && p[0] == 0x01 && p[1] == 0x01 {
			p = p[3:] // critical
		}
		// OCTET STRING (short length), SEQUENCE (short length), BOOLEAN.
		if len(p) >= 7 && p[0] == 0x04 && p[2] == 0x30 && p[4] == 0x01 && p[5] == 0x01 {
			return p[6] != 0
		}
	}
}
