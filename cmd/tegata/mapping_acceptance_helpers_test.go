package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/tegata-project/tegata/internal/testenv"
)

// mappingRun runs the tegata binary for TestMappingAcceptance.
type mappingRun struct {
	t    *testing.T
	bin  string
	work string
}

func (m *mappingRun) dir(name string) string {
	m.t.Helper()
	p := filepath.Join(m.work, name)
	if err := os.MkdirAll(p, 0o700); err != nil {
		m.t.Fatal(err)
	}
	return p
}

func (m *mappingRun) file(name string, data []byte) string {
	m.t.Helper()
	p := filepath.Join(m.work, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		m.t.Fatal(err)
	}
	return p
}

// run runs tegata with args in the work directory (so no ./tegata.yaml is
// read) and fails the test unless it exits with code.
func (m *mappingRun) run(code int, args ...string) (stdout, stderr string) {
	m.t.Helper()
	m.t.Logf("$ tegata %s", strings.ReplaceAll(strings.Join(args, " "), m.work+"/", ""))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.bin, args...)
	cmd.Dir = m.work
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "TEGATA_") {
			env = append(env, e)
		}
	}
	// ECDSA CA keys: RSA-4096 (the default) takes seconds to generate.
	cmd.Env = append(env, "TEGATA_PKI_PLAN_CA_KEY_ALGORITHM=ecdsa-p384")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	got := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		got = exit.ExitCode()
	case err != nil:
		m.t.Fatalf("tegata %s: %v", strings.Join(args, " "), err)
	}
	if got != code {
		m.t.Fatalf("tegata %s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

func (m *mappingRun) ok(args ...string) string {
	m.t.Helper()
	out, _ := m.run(0, args...)
	return out
}

func (m *mappingRun) json(out string, v any) {
	m.t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		m.t.Fatalf("decoding %T: %v\n%s", v, err, out)
	}
}

func (m *mappingRun) audit(code int, args ...string) *auditJSON {
	m.t.Helper()
	out, _ := m.run(code, args...)
	var a auditJSON
	m.json(out, &a)
	return &a
}

// pairWant is what a certificate/account pair must get.
type pairWant struct {
	outcome, compat, path string
	event                 int
	strength              string // of the mapping found, when set
	fix                   string // the one value proposed; none when empty
	advice, warning       string // a substring of some advice or warning, when set
	ntauth                string
}

// checkPairs compares the audit's findings, keyed "file account", with want:
// every pair wanted is found, and no other pair.
func (m *mappingRun) checkPairs(what string, a *auditJSON, want map[string]pairWant) {
	t := m.t
	t.Helper()
	seen := map[string]bool{}
	for _, f := range a.Findings {
		acct := "-"
		if f.Account != nil {
			acct = f.Account.SAMAccountName
		}
		key := originFile(f.Certificate.Origin) + " " + acct
		w, ok := want[key]
		if !ok {
			t.Errorf("%s: unexpected finding %s: %s (%s)", what, key, f.Outcome, f.Worst.Path)
			continue
		}
		seen[key] = true
		var fixes []string
		for _, x := range f.Fixes {
			fixes = append(fixes, x.Value)
		}
		var wantFixes []string
		if w.fix != "" {
			wantFixes = []string{w.fix}
		}
		compat := w.compat
		if compat == "" {
			compat = w.outcome
		}
		switch {
		case f.Outcome != w.outcome || f.Worst.Path != w.path || f.Worst.EventID != w.event || f.Compatibility != compat:
			t.Errorf("%s: %s: %s, %s, event %d, compatibility %s (%s); want %s, %s, event %d, compatibility %s",
				what, key, f.Outcome, f.Worst.Path, f.Worst.EventID, f.Compatibility, f.Worst.Reason, w.outcome, w.path, w.event, compat)
		case w.strength != "" && f.Worst.Strength != w.strength:
			t.Errorf("%s: %s: mapping strength %s (%s %s), want %s", what, key, f.Worst.Strength, f.Worst.Mapping, f.Worst.MappingType, w.strength)
		case !slices.Equal(fixes, wantFixes):
			t.Errorf("%s: %s: fixes %q, want %q", what, key, fixes, wantFixes)
		case w.advice != "" && !containsSub(f.Advice, w.advice):
			t.Errorf("%s: %s: advice %q lacks %q", what, key, f.Advice, w.advice)
		case w.warning != "" && !containsSub(f.Warnings, w.warning):
			t.Errorf("%s: %s: warnings %q lack %q", what, key, f.Warnings, w.warning)
		case f.Certificate.NTAuth != w.ntauth:
			t.Errorf("%s: %s: NTAuth %q, want %q", what, key, f.Certificate.NTAuth, w.ntauth)
		}
		if f.WorstDC != "dc1.corp.test" {
			t.Errorf("%s: %s: worst DC %q", what, key, f.WorstDC)
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("%s: no finding for %s", what, k)
		}
	}
}

func (m *mappingRun) checkProblem(what string, a *auditJSON, origin, text string) {
	m.t.Helper()
	for _, p := range a.Problems {
		if strings.Contains(p.Origin, origin) && strings.Contains(p.Origin+" "+p.Error, text) {
			return
		}
	}
	m.t.Errorf("%s: no problem from %s mentioning %q: %+v", what, origin, text, a.Problems)
}

// originFile is the file name of a certificate's origin, without the line
// of the PEM block that "/dir/bob.pem:1" carries.
func originFile(origin string) string {
	file := filepath.Base(origin)
	if i := strings.LastIndex(file, ":"); i > 0 {
		file = file[:i]
	}
	return file
}

func containsSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func hasValue(values []storedValueJSON, value, class string) bool {
	for _, v := range values {
		if strings.EqualFold(v.Value, value) && v.Class == class {
			return true
		}
	}
	return false
}

// auditJSON is the part of `tegata mapping audit --output json` the test reads.
type auditJSON struct {
	AsOf string `json:"asOf"`
	DCs  []struct {
		Name, State, Source string
		Assumed             bool
	} `json:"dcs"`
	Findings []struct {
		Certificate struct {
			Origin, Subject, SID, NTAuth string
		} `json:"certificate"`
		Account *struct {
			DN             string `json:"dn"`
			SID            string `json:"sid"`
			SAMAccountName string `json:"sAMAccountName"`
		} `json:"account"`
		FoundBy       []string `json:"foundBy"`
		Outcome       string   `json:"outcome"`
		Compatibility string   `json:"compatibility"`
		WorstDC       string   `json:"worstDC"`
		Worst         struct {
			Outcome, KerberosError, Path, Mapping, MappingType, Strength, Reason string
			EventID                                                              int `json:"event"`
		} `json:"worst"`
		Values   []storedValueJSON `json:"values"`
		Warnings []string          `json:"warnings"`
		Advice   []string          `json:"advice"`
		Fixes    []struct {
			DN, Value string
		} `json:"fixes"`
	} `json:"findings"`
	Problems []struct{ Origin, Error string } `json:"problems"`
	Summary  struct {
		Fixes     int            `json:"fixes"`
		ByOutcome map[string]int `json:"byOutcome"`
	} `json:"summary"`
}

type storedValueJSON struct{ Value, Class, Type string }

type fixResultJSON struct {
	Fix struct {
		DN, Value string
	} `json:"fix"`
	Status, Error string
}

// issuedClient is `tegata pki issue-client --output json`.
type issuedClient struct {
	SID       string `json:"sid"`
	AccountDN string `json:"account_dn"`
}

// parseFixLDIF returns, per lower-cased DN, the altSecurityIdentities values
// a `mapping fix` LDIF adds (folded lines joined).
func parseFixLDIF(t *testing.T, text string) map[string][]string {
	t.Helper()
	text = strings.ReplaceAll(text, "\n ", "")
	out := map[string][]string{}
	dn := ""
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "dn: "):
			dn = strings.ToLower(strings.TrimPrefix(line, "dn: "))
		case strings.HasPrefix(line, "altSecurityIdentities: "):
			out[dn] = append(out[dn], strings.TrimPrefix(line, "altSecurityIdentities: "))
		case strings.HasPrefix(line, "altSecurityIdentities:: "), strings.HasPrefix(line, "dn:: "):
			t.Errorf("unexpected base64 in the fix LDIF: %s", line)
		}
	}
	return out
}

// rfc4514Order turns X509:<I>A,B<SR>serial into X509:<I>B, A<SR>serial: the
// issuer as certutil and .NET print it, which the KDC never matches.
func rfc4514Order(t *testing.T, v string) string {
	t.Helper()
	issuer, serial, ok := strings.Cut(strings.TrimPrefix(v, "X509:<I>"), "<SR>")
	if !ok {
		t.Fatalf("%q is not an issuer+serial value", v)
	}
	rdns := strings.Split(issuer, ",")
	slices.Reverse(rdns)
	return "X509:<I>" + strings.Join(rdns, ", ") + "<SR>" + serial
}

func mapsEqual(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !sameSet(v, b[k]) {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// testCA is an offline CA that adds no SID to what it issues.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{"Tegata Test"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: c, key: key}
}

var oidUPN = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}

// issue returns a PEM client certificate for cn with, when given, a SAN UPN
// (otherName 1.3.6.1.4.1.311.20.2.3) or a SAN DNS name, and no SID.
func (ca *testCA) issue(t *testing.T, cn, upn, dns string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial.Add(serial, big.NewInt(1<<20)), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(7 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if dns != "" {
		tmpl.DNSNames = []string{dns}
	}
	if upn != "" {
		utf8, err := asn1.MarshalWithParams(upn, "utf8")
		if err != nil {
			t.Fatal(err)
		}
		// OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
		other := struct {
			Type  asn1.ObjectIdentifier
			Value asn1.RawValue
		}{oidUPN, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: utf8}}
		gn, err := asn1.MarshalWithParams(other, "tag:0")
		if err != nil {
			t.Fatal(err)
		}
		san, err := asn1.Marshal([]asn1.RawValue{{FullBytes: gn}})
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: san}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func readPEMCertificates(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no certificate", path)
	}
	return out
}

// publishNTAuth writes certs to cACertificate of the forest's NTAuth store,
// creating the object as `certutil -dspublish -f ca.cer NTAuthCA` does
// (Samba's provisioning has none).
func publishNTAuth(t *testing.T, s *testenv.Samba, certs [][]byte) {
	t.Helper()
	conn, err := s.Dial(s.AdminUPN, s.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dn := "CN=NTAuthCertificates,CN=Public Key Services,CN=Services,CN=Configuration," + s.BaseDN
	values := make([]string, len(certs))
	for i, c := range certs {
		values[i] = string(c)
	}
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"top", "certificationAuthority"})
	add.Attribute("cACertificate", values)
	add.Attribute("authorityRevocationList", []string{"\x00"})
	add.Attribute("certificateRevocationList", []string{"\x00"})
	err = conn.Add(add)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		mod := ldap.NewModifyRequest(dn, nil)
		mod.Replace("cACertificate", values)
		err = conn.Modify(mod)
	}
	if err != nil {
		t.Fatalf("publishing the CAs in NTAuth (%s): %v", dn, err)
	}
}
