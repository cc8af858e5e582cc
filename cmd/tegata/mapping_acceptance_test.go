package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/testenv"
)

// TestMappingAcceptance is issue 7's acceptance story, told through the
// tegata binary as an administrator runs it, against a real Samba AD DC over
// LDAPS (Samba is only the directory: the verdicts are tegata's).
//
// Accounts and certificates:
//
//	alice, WS1$  strong: issued by `tegata pki issue-client --ldap --account`, with the SID
//	bob, WS2$    weak: an offline CA's certificate (no SID) naming the UPN / dNSHostName
//	carol        strong explicit X509:<I>..<SR>.. already on the account (from `mapping altsecid`)
//	dave         wrong SID: issued with --sid of eve and --upn of dave
//	frank        weak explicit X509:<I>..<S>.. (issuer and subject)
//	grace        UPN certificate, and a broken value (issuer in RFC 4514 order)
//	ivan         strong explicit value, but the issuer is not in NTAuth
//
// tegata's client CA and the offline CA are published in Samba's NTAuth store,
// the DC is declared fully patched (Server 2022, 2025-10-14), and then:
// audit (exit 1, verdicts per pair), fix --format ldif (dry run: Samba
// unchanged), fix --apply (values added, existing ones kept; a second run adds
// nothing), audit again (every fixable pair strong; the wrong SID and the
// issuer outside NTAuth still denied, with no fix), and the same audit from an
// ldapsearch export plus a damaged LDIF and a damaged certificate file.
func TestMappingAcceptance(t *testing.T) {
	testenv.Program(t, "ldapsearch", "ldap-utils")
	s := testenv.StartSamba(t)
	m := &mappingRun{t: t, bin: testenv.Tegata(t), work: t.TempDir()}
	began := time.Now()
	t.Cleanup(func() {
		t.Logf("acceptance run (after Samba start and build): %s", time.Since(began).Round(time.Millisecond))
	})

	certs := m.dir("certs")
	keys := m.dir("keys")
	pwFile := m.file("bind.pw", []byte(s.AdminPassword)) // no newline: ldapsearch -y reads the whole file
	ldapFlags := []string{"--ldap", s.URL, "--bind-dn", s.AdminDN, "--password-file", pwFile, "--ldap-ca-file", s.CAFile}

	// 1. Accounts.
	acct := map[string]testenv.SambaAccount{}
	for _, u := range []string{"alice", "bob", "carol", "dave", "eve", "frank", "grace", "ivan"} {
		acct[u] = s.CreateUser(t, u)
	}
	for _, c := range []string{"WS1", "WS2"} {
		a := s.CreateComputer(t, c)
		acct[a.SAMAccountName] = a
	}

	// Certificates from tegata's PKI (a data directory of the test's own).
	data := m.dir("tegata-data")
	chainFile := filepath.Join(m.work, "tegata-chain.pem")
	issue := func(name string, args ...string) issuedClient {
		t.Helper()
		args = append([]string{"--data-dir", data, "pki", "issue-client"}, args...)
		args = append(args, "--out-cert", filepath.Join(certs, name+".pem"), "--out-key", filepath.Join(keys, name+".key"),
			"--out-ca", chainFile, "--output", "json")
		var r issuedClient
		m.json(m.ok(args...), &r)
		return r
	}
	for _, c := range []struct{ file, account, sam string }{{"alice", "alice", "alice"}, {"ws1", "ws1.corp.test", "WS1$"}} {
		r := issue(c.file, append(slices.Clone(ldapFlags), "--account", c.account)...)
		if want := acct[c.sam]; r.SID != want.SID || !strings.EqualFold(r.AccountDN, want.DN) {
			t.Fatalf("issue-client --account %s: SID %s, account %s; want %s, %s", c.account, r.SID, r.AccountDN, want.SID, want.DN)
		}
	}
	if r := issue("dave", "--sid", acct["eve"].SID, "--upn", acct["dave"].UserPrincipalName); r.SID != acct["eve"].SID {
		t.Fatalf("issue-client --sid: the certificate carries %s, want eve's %s", r.SID, acct["eve"].SID)
	}

	// Certificates without a SID: an offline CA in NTAuth, a rogue one outside.
	offline := newTestCA(t, "Offline Issuing CA")
	rogue := newTestCA(t, "Rogue Issuing CA")
	m.file("certs/bob.pem", offline.issue(t, "bob", "bob@corp.test", ""))
	m.file("certs/ws2.pem", offline.issue(t, "ws2", "", "ws2.corp.test"))
	m.file("certs/carol.pem", offline.issue(t, "carol", "", ""))
	m.file("certs/frank.pem", offline.issue(t, "frank", "", ""))
	m.file("certs/grace.pem", offline.issue(t, "grace", "grace@corp.test", ""))
	m.file("certs/ivan.pem", rogue.issue(t, "ivan", "", ""))
	m.file("certs/broken.pem", []byte("-----BEGIN CERTIFICATE-----\nthis is not base64 @@@\n-----END CERTIFICATE-----\n"))

	// The values as the KDC compares them, from `tegata mapping altsecid`.
	var views []struct {
		Certificate string
		Values      []struct {
			Value, Type string
			Emit        bool
		}
	}
	m.json(m.ok("mapping", "altsecid", filepath.Join(certs, "carol.pem"), filepath.Join(certs, "frank.pem"),
		filepath.Join(certs, "grace.pem"), filepath.Join(certs, "ivan.pem"), filepath.Join(certs, "bob.pem"),
		filepath.Join(certs, "ws2.pem"), "--output", "json"), &views)
	value := func(cert, typ string) string {
		for _, v := range views {
			if originFile(v.Certificate) != cert+".pem" {
				continue
			}
			for _, x := range v.Values {
				if x.Type == typ && (typ != "X509IssuerSerialNumber" || x.Emit) {
					return x.Value
				}
			}
		}
		t.Fatalf("mapping altsecid gave no %s value for %s.pem: %+v", typ, cert, views)
		return ""
	}
	sr := func(cert string) string { return value(cert, "X509IssuerSerialNumber") }
	if want := "X509:<I>O=Tegata Test,CN=Offline Issuing CA<SR>"; !strings.HasPrefix(sr("bob"), want) {
		t.Errorf("bob's issuer+serial value %q does not start with %q (issuer in encoding order)", sr("bob"), want)
	}
	broken := rfc4514Order(t, sr("grace"))
	s.AddAltSecurityIdentities(t, acct["carol"].DN, sr("carol"))
	s.AddAltSecurityIdentities(t, acct["frank"].DN, value("frank", "X509IssuerSubject"))
	s.AddAltSecurityIdentities(t, acct["grace"].DN, broken)
	s.AddAltSecurityIdentities(t, acct["ivan"].DN, sr("ivan"))

	// 2. NTAuth holds tegata's client CA (and root) and the offline CA, not the rogue CA.
	ntauth := [][]byte{offline.cert.Raw}
	for _, c := range readPEMCertificates(t, chainFile) {
		ntauth = append(ntauth, c.Raw)
	}
	publishNTAuth(t, s, ntauth)
	dcs := m.file("dcs.yaml", []byte("domainControllers:\n  - name: dc1.corp.test\n    os: 2022\n    lastUpdate: 2025-10-14\n"))

	// 3. Audit over LDAPS.
	auditArgs := append(append([]string{"mapping", "audit", "--certs", certs}, ldapFlags...), "--dcs", dcs, "--output", "json", "--fail-on", "weak")
	before := m.audit(1, auditArgs...)
	if len(before.DCs) != 1 || before.DCs[0].Name != "dc1.corp.test" || !strings.Contains(before.DCs[0].State, "Full Enforcement") ||
		!strings.Contains(before.DCs[0].State, "2025-10-14") || before.DCs[0].Assumed {
		t.Errorf("DCs: %+v, want dc1.corp.test as declared: Server 2022, 2025-10-14, Full Enforcement", before.DCs)
	}
	want := map[string]pairWant{
		"alice.pem alice": {outcome: "allowed", path: "SID", ntauth: "yes"},
		"ws1.pem WS1$":    {outcome: "allowed", path: "SID", ntauth: "yes"},
		"bob.pem bob":     {outcome: "denied", path: "weak mapping", event: 39, compat: "allowed-with-event", fix: sr("bob"), ntauth: "yes"},
		"ws2.pem WS2$":    {outcome: "denied", path: "weak mapping", event: 39, compat: "allowed-with-event", fix: sr("ws2"), ntauth: "yes"},
		"carol.pem carol": {outcome: "allowed", path: "strong explicit mapping", strength: "strong", ntauth: "yes"},
		"dave.pem dave":   {outcome: "denied", path: "SID mismatch", event: 41, compat: "denied", advice: "re-issue the certificate", ntauth: "yes"},
		"dave.pem eve":    {outcome: "denied", path: "no mapping", compat: "denied", advice: "re-issue it with consistent names", ntauth: "yes"},
		"frank.pem frank": {outcome: "denied", path: "weak mapping", event: 39, compat: "allowed-with-event", fix: sr("frank"), ntauth: "yes"},
		"grace.pem grace": {outcome: "denied", path: "weak mapping", event: 39, compat: "allowed-with-event", fix: sr("grace"), warning: "only after normalisation", ntauth: "yes"},
		"ivan.pem ivan":   {outcome: "denied", path: "issuer not in NTAuth", event: 21, compat: "denied", advice: "publish the issuing CA in NTAuth", ntauth: "no"},
	}
	m.checkPairs("audit before the fix", before, want)
	m.checkProblem("audit before the fix", before, "broken.pem", "not a certificate")

	// 4. fix, dry run: the LDIF proposes the issuer+serial value for the weak
	// pairs' accounts and nothing else; Samba is unchanged.
	stored := func() map[string][]string {
		out := map[string][]string{}
		for name, a := range acct {
			out[name] = s.ReadAccount(t, a.DN).AltSecurityIdentities
		}
		return out
	}
	initial := stored()
	fixArgs := append(append([]string{"mapping", "fix", "--certs", certs}, ldapFlags...), "--dcs", dcs)
	ldif, stderr := m.run(0, append(slices.Clone(fixArgs), "--format", "ldif")...)
	if !strings.Contains(stderr, "4 values for 4 accounts; dry run, nothing written") || !strings.Contains(stderr, "broken.pem") {
		t.Errorf("fix --format ldif: stderr %q, want 4 values for 4 accounts and the broken.pem problem", stderr)
	}
	records := parseFixLDIF(t, ldif)
	for _, name := range []string{"bob", "WS2$", "frank", "grace"} {
		key := strings.ToLower(acct[name].DN)
		if got, want := records[key], []string{sr(strings.ToLower(strings.TrimSuffix(name, "$")))}; !slices.Equal(got, want) {
			t.Errorf("fix LDIF for %s: %q, want %q", acct[name].DN, got, want)
		}
		delete(records, key)
	}
	if len(records) != 0 {
		t.Errorf("fix LDIF proposes values for other accounts (strong, wrong-SID or outside NTAuth): %q\n%s", records, ldif)
	}
	if after := stored(); !mapsEqual(after, initial) {
		t.Errorf("the dry run changed Samba: before %q, after %q", initial, after)
	}

	// 5. fix --apply adds the values and keeps the existing ones; a second
	// run finds nothing to add.
	var results []fixResultJSON
	m.json(m.ok(append(slices.Clone(fixArgs), "--apply", "--output", "json")...), &results)
	added := map[string]string{}
	for _, r := range results {
		if r.Status != "added" {
			t.Errorf("fix --apply: %s %q: %s %s", r.Fix.DN, r.Fix.Value, r.Status, r.Error)
		}
		added[strings.ToLower(r.Fix.DN)] = r.Fix.Value
	}
	if len(results) != 4 {
		t.Errorf("fix --apply: %d results, want 4: %+v", len(results), results)
	}
	applied := stored()
	for name, values := range applied {
		want := initial[name]
		if v, ok := added[strings.ToLower(acct[name].DN)]; ok {
			want = append(slices.Clone(want), v)
		}
		if !sameSet(values, want) {
			t.Errorf("%s after fix --apply: altSecurityIdentities %q, want %q", name, values, want)
		}
	}
	out, errOut := m.run(0, append(slices.Clone(fixArgs), "--apply", "--output", "json")...)
	results = nil
	m.json(out, &results)
	if len(results) != 0 || !strings.Contains(errOut, "nothing to add") {
		t.Errorf("the second fix --apply: results %+v, stderr %q; want none and \"nothing to add\"", results, errOut)
	}
	if again := stored(); !mapsEqual(again, applied) {
		t.Errorf("the second fix --apply changed Samba: %q, then %q", applied, again)
	}

	// 6. Audit again: every fixable pair maps strongly; the wrong SID and the
	// issuer outside NTAuth stay denied, with no fix.
	after := m.audit(1, auditArgs...)
	for _, k := range []string{"bob.pem bob", "ws2.pem WS2$", "frank.pem frank", "grace.pem grace"} {
		w := want[k]
		w.outcome, w.path, w.event, w.compat, w.fix, w.strength = "allowed", "strong explicit mapping", 0, "allowed", "", "strong"
		want[k] = w
	}
	m.checkPairs("audit after the fix", after, want)
	for _, f := range after.Findings {
		if f.Account != nil && f.Account.SAMAccountName == "frank" && !hasValue(f.Values, value("frank", "X509IssuerSubject"), "exact") {
			t.Errorf("frank's issuer+subject value is no longer reported as stored: %+v", f.Values)
		}
		if f.Account != nil && f.Account.SAMAccountName == "grace" && !hasValue(f.Values, broken, "normalised-only") {
			t.Errorf("grace's broken value is not reported as normalised-only after the fix: %+v", f.Values)
		}
	}
	if after.Summary.Fixes != 0 || after.Summary.ByOutcome["denied"] != 3 {
		t.Errorf("after the fix: %d fixes proposed, %d denied pairs; want 0 and 3 (dave/dave, dave/eve, ivan)", after.Summary.Fixes, after.Summary.ByOutcome["denied"])
	}
	// The fixed and the strong pairs alone pass the CI gate, read with an
	// NTLM bind this time.
	gate := []string{"mapping", "audit", "--fail-on", "weak", "--dcs", dcs}
	for _, c := range []string{"alice", "ws1", "bob", "ws2", "carol", "frank", "grace"} {
		gate = append(gate, "--certs", filepath.Join(certs, c+".pem"))
	}
	ntlmFlags := []string{"--ldap", s.URL, "--bind-dn", "Administrator", "--ntlm-domain", s.Domain, "--password-file", pwFile, "--ldap-ca-file", s.CAFile}
	if out, _ := m.run(0, append(gate, ntlmFlags...)...); !strings.Contains(out, "allowed 7, allowed with an event 0, denied 0") {
		t.Errorf("audit --fail-on weak of the fixed and strong pairs (NTLM bind):\n%s", out)
	}

	// 7. The same audit from files: an ldapsearch export of the accounts and
	// of NTAuth, plus a damaged LDIF; the damaged certificate is still in the
	// directory. Each problem names its file; the rest is audited, with the
	// same verdicts as over LDAP.
	exportLDIF := func(name, base, scope, filter string, attrs ...string) string {
		t.Helper()
		args := append([]string{"-H", s.URL, "-x", "-D", s.AdminDN, "-y", pwFile, "-b", base, "-s", scope,
			"-LLL", "-o", "ldif-wrap=no", "-E", "pr=1000/noprompt", filter}, attrs...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ldapsearch", args...)
		cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+s.CAFile)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("ldapsearch %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return m.file(name, b)
	}
	corp := exportLDIF("corp.ldf", s.BaseDN, "sub", "(|(objectClass=user)(objectClass=computer))",
		"objectClass", "objectSid", "sAMAccountName", "userPrincipalName", "dNSHostName", "altSecurityIdentities",
		"whenCreated", "userAccountControl", "operatingSystem", "operatingSystemVersion")
	nt := exportLDIF("ntauth.ldf", "CN=NTAuthCertificates,CN=Public Key Services,CN=Services,CN=Configuration,"+s.BaseDN,
		"base", "(objectClass=*)", "cACertificate")
	bad := m.file("bad.ldf", []byte("version: 1\n\n"+
		"dn: CN=mallory,CN=Users,DC=corp,DC=test\nobjectClass: user\n"+
		"objectSid:: AQUAAAAAAAUVAAAA\nsAMAccountName: mallory\nuserPrincipalName: mallory@corp.test\n\n"+
		"dn: CN=trent,CN=Users,DC=corp,DC=test\nobjectClass: user\nobjectSid:: not base64 !!\nsAMAccountName: trent\n\n"+
		"this paragraph is not a record\n"))
	files := m.audit(1, "mapping", "audit", "--certs", certs, "--ldif", corp, "--ldif", nt, "--ldif", bad,
		"--dcs", dcs, "--output", "json", "--fail-on", "weak")
	m.checkPairs("audit of the LDIF export", files, want)
	m.checkProblem("audit of the LDIF export", files, "broken.pem", "not a certificate")
	m.checkProblem("audit of the LDIF export", files, "bad.ldf:", "mallory")
	m.checkProblem("audit of the LDIF export", files, "bad.ldf:", "trent")
	m.checkProblem("audit of the LDIF export", files, "bad.ldf:", "not a record")
	if t.Failed() {
		t.Logf("problems of the LDIF audit: %+v", files.Problems)
	}
}
