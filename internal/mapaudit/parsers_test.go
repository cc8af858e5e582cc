package mapaudit

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/tegata-project/tegata/mapping"
)

func problemsText(probs []Problem) string {
	var s []string
	for _, p := range probs {
		s = append(s, p.Error())
	}
	return strings.Join(s, "\n")
}

func TestLDIFFeatures(t *testing.T) {
	sid, _ := mapping.ParseSID("S-1-5-21-1-2-3-1013")
	in := "version: 1\r\n# comment\r\n#  folded comment\r\n  continues\r\n" +
		"dn:: " + base64.StdEncoding.EncodeToString([]byte("CN=Zoë,CN=Users,DC=corp,DC=test")) + "\r\n" +
		"objectClass: user\r\nOBJECTSID:: " + base64.StdEncoding.EncodeToString(sid.Bytes()) + "\r\n" +
		"sAMAccountName: zoe\r\nuserPrincipalName: zo\r\n e@corp.test\r\n" +
		"altSecurityIdentities;range=0-1: X509:<SKI>01\r\naltSecurityIdentities;range=2-*: X509:<SKI>02\r\n" +
		"userCertificate;binary:: AQID\r\nwhenCreated: 20240115093012.0Z\r\nuserAccountControl: 514\r\n\r\n"
	d, err := ReadLDIFDirectory(strings.NewReader(in), "t.ldf")
	if err != nil || len(d.Problems) > 0 || len(d.Accounts) != 1 {
		t.Fatalf("%v %v %d accounts", err, d.Problems, len(d.Accounts))
	}
	a := d.Accounts[0]
	if a.DN != "CN=Zoë,CN=Users,DC=corp,DC=test" || !a.ObjectSID.Equal(sid) || a.UserPrincipalName != "zoe@corp.test" ||
		len(a.AltSecurityIdentities) != 2 || len(a.Certificates) != 1 || !a.Disabled || a.WhenCreated.IsZero() || a.Origin != "t.ldf:5" {
		t.Fatalf("account %+v", a)
	}
}

func TestLDIFBadInputsNameThePlace(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"url reference", "dn: CN=a,DC=x\nobjectClass: user\nobjectSid: S-1-5-21-1-2-3-4\nuserCertificate:< file:///etc/passwd\n", "x.ldf:4"},
		{"short binary SID", "dn: CN=a,DC=x\nobjectClass: user\nobjectSid:: AQUAAAAAAAUVAAAA\n", "x.ldf:3: entry \"CN=a,DC=x\": objectSid"},
		{"no colon", "dn: CN=a,DC=x\nobjectClass: user\ngarbage line\n", "x.ldf:3"},
		{"bad base64", "dn: CN=a,DC=x\nobjectClass: user\nobjectSid:: !!!\n", "x.ldf:3"},
		{"no dn", "objectClass: user\n", "x.ldf:1"},
		{"bad whenCreated", "dn: CN=a,DC=x\nobjectClass: user\nobjectSid: S-1-5-21-1-2-3-4\nwhenCreated: yesterday\n", "x.ldf:4"},
		{"no objectSid", "dn: CN=a,DC=x\nobjectClass: user\nsAMAccountName: a\n", "x.ldf:1: entry \"CN=a,DC=x\" has no usable objectSid"},
	} {
		d, err := ReadLDIFDirectory(strings.NewReader(c.in), "x.ldf")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := problemsText(d.Problems); !strings.Contains(got, c.want) {
			t.Errorf("%s: problems %q, want %q", c.name, got, c.want)
		}
	}
	d, _ := ReadLDIFDirectory(strings.NewReader("dn: CN=a,DC=x\nobjectClass: user\nobjectSid:: AQUAAAAAAAUVAAAA\n\ndn: CN=b,DC=x\nobjectClass: user\nobjectSid: S-1-5-21-1-2-3-5\n"), "x.ldf")
	if len(d.Accounts) != 1 || d.Accounts[0].DN != "CN=b,DC=x" {
		t.Errorf("a bad entry must not stop the next: %+v", d.Accounts)
	}
	if !errors.Is(d.Problems[0], mapping.ErrMalformedSID) {
		t.Errorf("wrong-length SID problem does not wrap ErrMalformedSID: %v", d.Problems[0])
	}
	_, err := ReadLDIFDirectory(strings.NewReader("dn: CN=a\nx: "+strings.Repeat("a", MaxLineLength+1)+"\n"), "big.ldf")
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized line: %v", err)
	}
}

func TestLDIFUTF16(t *testing.T) {
	u := utf16.Encode([]rune("dn: CN=a,DC=x\r\nobjectClass: user\r\nobjectSid: S-1-5-21-1-2-3-4\r\n"))
	b := []byte{0xFF, 0xFE}
	for _, r := range u {
		b = append(b, byte(r), byte(r>>8))
	}
	d, err := ReadLDIFDirectory(bytes.NewReader(b), "u.ldf")
	if err != nil || len(d.Accounts) != 1 {
		t.Fatalf("%v %+v", err, d)
	}
}

func TestCertificateFilesBadInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, _ := os.ReadFile("testdata/corp/certs/www.pem")
	mixed := write("mixed.pem", "junk\n"+string(good)+"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	ins, probs := ReadCertificateFiles([]string{mixed}, CertFileOptions{})
	if len(ins) != 1 || len(probs) != 1 || !strings.Contains(probs[0].Error(), "mixed.pem:13") || !errors.Is(probs[0], mapping.ErrMalformedCertificate) {
		t.Errorf("mixed.pem: %d certificates, problems %q", len(ins), problemsText(probs))
	}
	for _, c := range []struct{ name, content, want string }{
		{"empty.cer", "", "empty"},
		{"text.cer", "hello, world", "neither PEM"},
		{"trunc.der", "\x30\x82\x05\x00\x30", "not DER"},
	} {
		_, probs := ReadCertificateFiles([]string{write(c.name, c.content)}, CertFileOptions{})
		if len(probs) != 1 || !strings.Contains(probs[0].Error(), c.name) || !strings.Contains(probs[0].Error(), c.want) {
			t.Errorf("%s: %q", c.name, problemsText(probs))
		}
	}
	_, probs = ReadCertificateFiles([]string{"testdata/corp/certs/frank.pfx"}, CertFileOptions{PFXPassword: "wrong"})
	if len(probs) != 1 || !strings.Contains(probs[0].Error(), "--pfx-password-env") {
		t.Errorf("wrong PFX password: %q", problemsText(probs))
	}
	ins, _ = ReadCertificateFiles([]string{"testdata/corp/certs/bundle.p7b"}, CertFileOptions{})
	if len(ins) != 2 || ins[1].Origin != "testdata/corp/certs/bundle.p7b#2" {
		t.Errorf("p7b: %+v", ins)
	}
	// A PEM-armoured PKCS#7.
	p7, _ := os.ReadFile("testdata/corp/certs/bundle.p7b")
	p := write("bundle-pem.p7b", "-----BEGIN PKCS7-----\n"+base64.StdEncoding.EncodeToString(p7)+"\n-----END PKCS7-----\n")
	if ins, probs := ReadCertificateFiles([]string{p}, CertFileOptions{}); len(ins) != 2 || len(probs) != 0 {
		t.Errorf("PEM p7b: %d, %v", len(ins), probs)
	}
}

func TestCertutilCSV(t *testing.T) {
	good, _ := os.ReadFile("testdata/corp/issued.csv")
	var n int
	probs, err := ReadCertutilCSV(good, "issued.csv", func(in CertificateInput) {
		n++
		if in.Requester != `CONTOSO\svc-ndes` {
			t.Errorf("requester %q", in.Requester)
		}
	})
	if err != nil || len(probs) > 0 || n != 3 {
		t.Fatalf("%v %v %d", err, probs, n)
	}
	// Localised header: the certificate column is found by its values.
	lines := strings.SplitN(string(good), "\r\n", 2)
	localised := "\"Angeforderte ID\",\"Name des Anforderers\",\"Seriennummer\",\"Zertifikatvorlage\",\"Binärzertifikat\"\r\n" + lines[1]
	n = 0
	if _, err := ReadCertutilCSV([]byte(localised), "de.csv", func(CertificateInput) { n++ }); err != nil || n != 3 {
		t.Errorf("localised header: %v, %d certificates", err, n)
	}
	bad := "\"Request ID\",\"Binary Certificate\"\r\n\"1\",\"EMPTY\"\r\n\"2\",\"" + strings.Repeat("QUFB", 30) + "\"\r\n"
	probs, err = ReadCertutilCSV([]byte(bad), "bad.csv", func(CertificateInput) {})
	if err != nil || len(probs) != 2 || !strings.Contains(probs[0].Error(), "bad.csv:2 (request 1)") || !strings.Contains(probs[1].Error(), "bad.csv:3 (request 2)") {
		t.Errorf("bad rows: %v %q", err, problemsText(probs))
	}
	if _, err := ReadCertutilCSV([]byte("\"a\",\"b\"\r\n\"1\",\"2\"\r\n"), "none.csv", func(CertificateInput) {}); err == nil || !strings.Contains(err.Error(), "RawCertificate") {
		t.Errorf("no certificate column: %v", err)
	}
}

func TestDCDeclarationErrors(t *testing.T) {
	good := "domainControllers:\n  - name: dc1.corp.test\n    os: windows-server-2019\n    lastUpdate: 2025-06-10\n    esu: false\n    kdc:\n      StrongCertificateBindingEnforcement: 1\n      CertificateBackdatingCompensation: 0x01E13380\n    sanUrlSupport: no\n"
	decls, probs, err := ParseDCDeclarations([]byte(good), "dcs.yaml")
	if err != nil || len(probs) > 0 || len(decls) != 1 {
		t.Fatalf("%v %v", err, probs)
	}
	s := decls[0].State
	if s.OS != mapping.OS2019 || s.CertificateBackdatingCompensation != mapping.DWORD(31536000) || s.SANURLSupport != mapping.No || decls[0].Origin != "dcs.yaml:2" {
		t.Errorf("declaration %+v", decls[0])
	}
	for _, c := range []struct{ in, want string }{
		{"domainControllers:\n  - name: dc1\n    osVersion: 2019\n", "dcs.yaml:3: unknown field \"osVersion\""},
		{"domainControllers:\n  - name: dc1\n    os: 2003\n", "dcs.yaml:3: os \"2003\""},
		{"domainControllers:\n  - name: dc1\n    lastUpdate: June\n", "dcs.yaml:3: lastUpdate"},
		{"domainControllers:\n  - name: dc1\n    kdc:\n      StrongCertificateBindingEnforcment: 1\n", "dcs.yaml:4: unknown field"},
		{"domainControllers:\n  - os: 2019\n", "dcs.yaml:2: a domain controller needs name"},
		{"domainControllers:\n  - name: a\n  - name: A\n", "dcs.yaml:3: domain controller \"A\" is declared twice"},
		{"dcs: []\n", "dcs.yaml:1: unknown field \"dcs\""},
	} {
		_, _, err := ParseDCDeclarations([]byte(c.in), "dcs.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrDCDeclaration) {
			t.Errorf("%q: %v, want %q", c.in, err, c.want)
		}
	}
	_, probs, err = ParseDCDeclarations([]byte("domainControllers:\n  - name: dc1\n    strongNameMatches: nonsense\n"), "dcs.yaml")
	if err != nil || len(probs) != 1 || !strings.Contains(probs[0].Error(), "dcs.yaml:3") {
		t.Errorf("invalid strong-name rules must be a problem: %v %v", err, probs)
	}
}

func TestRegExport(t *testing.T) {
	b, _ := os.ReadFile("testdata/corp/dc2-kdc.reg")
	k, probs, err := ParseRegExport(b, "dc2-kdc.reg")
	if err != nil || len(probs) > 0 || k.StrongCertificateBindingEnforcement != mapping.DWORD(1) || k.CertificateBackdatingCompensation != mapping.DWORD(31536000) || k.AllowNtAuthPolicyBypass.Set {
		t.Fatalf("%v %v %+v", err, probs, k)
	}
	policy := "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\Kdc\\Parameters]\n\"StrongCertificateBindingEnforcement\"=dword:00000002\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Kdc]\n\"StrongCertificateBindingEnforcement\"=dword:00000001\n\"AllowNtAuthPolicyBypass\"=hex:01\n\"CertificateBackdatingCompensation\"=dword:1234567890\n"
	k, probs, err = ParseRegExport([]byte(policy), "p.reg")
	if err != nil || k.StrongCertificateBindingEnforcement != mapping.DWORD(2) {
		t.Errorf("the policy key must win: %v %+v", err, k)
	}
	if len(probs) != 2 || !strings.Contains(probs[0].Error(), "p.reg:8") || !strings.Contains(probs[1].Error(), "p.reg:9") {
		t.Errorf("problems %q", problemsText(probs))
	}
	for _, c := range []struct{ in, want string }{
		{"hello\n", "x.reg:1: expected the header"},
		{"Windows Registry Editor Version 5.00\n[HKEY_CURRENT_USER\\Software]\n", "has no [HKEY_LOCAL_MACHINE"},
		{"", "is empty"},
	} {
		if _, _, err := ParseRegExport([]byte(c.in), "x.reg"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.in, err, c.want)
		}
	}
}

func TestResolveDCs(t *testing.T) {
	dcs, probs := ResolveDCs(nil, nil, nil, corpAsOf)
	if len(dcs) != 1 || !dcs[0].Assumed || dcs[0].Name != AssumedDCName || len(probs) != 0 {
		t.Fatalf("no DC: %+v", dcs)
	}
	dir := []DomainController{{Name: "dc1.corp.test", OperatingSystem: "Windows Server 2012 R2 Standard", OperatingSystemVersion: "6.3 (9600)"}}
	decl := []DCDeclaration{{Name: "DC1", State: mapping.DCState{ESU: true}, Origin: "dcs.yaml:2"}}
	dcs, _ = ResolveDCs(dir, decl, []RegAssignment{{"dc1", KDCRegistry{StrongCertificateBindingEnforcement: mapping.DWORD(1), Origin: "k.reg"}}}, corpAsOf)
	if len(dcs) != 1 || dcs[0].State.OS != mapping.OS2012R2 || !dcs[0].State.ESU || !dcs[0].State.StrongCertificateBindingEnforcement.Set || !dcs[0].State.AsOf.Equal(corpAsOf) {
		t.Errorf("merged DC %+v", dcs)
	}
}

func TestWritersQuoteAndFold(t *testing.T) {
	plan := []AccountFixes{{DN: "CN=Zoë O'Neil,CN=Users,DC=corp,DC=test", SID: "S-1-5-21-1-2-3-4", Class: mapping.ClassUser,
		Add: []Fix{{Value: " leading space"}, {Value: "X509:<I>O='quoted',CN=" + strings.Repeat("Long", 30) + "<SR>01"}}}}
	var b bytes.Buffer
	if err := WriteLDIF(&b, plan, false); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if len(line) > 76 {
			t.Errorf("line of %d columns: %q", len(line), line)
		}
	}
	if !strings.HasPrefix(b.String(), "dn:: ") || !strings.Contains(b.String(), "altSecurityIdentities:: IGxlYWRpbmcgc3BhY2U=") {
		t.Errorf("base64 DN and value expected:\n%s", b.String())
	}
	recs, probs, _ := ParseLDIF(b.Bytes(), "fix.ldf")
	if len(probs) > 0 || recs[0].DN != plan[0].DN || string(recs[0].Mods[0].Values[1]) != plan[0].Add[1].Value {
		t.Errorf("read back %+v %v", recs, probs)
	}
	b.Reset()
	WritePowerShell(&b, plan, false)
	if !strings.Contains(b.String(), "Set-ADUser -Identity 'S-1-5-21-1-2-3-4' -Add @{altSecurityIdentities='X509:<I>O=''quoted'',CN=") {
		t.Errorf("powershell:\n%s", b.String())
	}
	if q := psQuote("a\u2019b"); q != "'a\u2019\u2019b'" {
		t.Errorf("psQuote must double typographic quotes: %s", q)
	}
	// Values present, ignoring case, and duplicates are dropped.
	p := PlanFixes([]Fix{{DN: "CN=a", Value: "X509:<SKI>AA"}, {DN: "cn=A", Value: "x509:<ski>aa"}, {DN: "CN=a", Value: "X509:<SKI>BB"}},
		func(string) []string { return []string{"X509:<SKI>bb"} })
	if len(p) != 1 || len(p[0].Add) != 1 || p[0].Add[0].Value != "X509:<SKI>AA" {
		t.Errorf("plan %+v", p)
	}
}

// TestResolveDCsDeclaredOSSettlesUnknown: a directory DC whose OS tegata does not
// recognise (Samba) is a problem only until a declaration names its OS.
func TestResolveDCsDeclaredOSSettlesUnknown(t *testing.T) {
	dir := []DomainController{{Name: "dc1.corp.test", OperatingSystem: "Samba", OperatingSystemVersion: "4.17.12-Debian"}}
	if _, probs := ResolveDCs(dir, nil, nil, corpAsOf); len(probs) != 1 || !strings.Contains(probs[0].Error(), "not recognised") {
		t.Errorf("undeclared Samba DC: problems %v, want one naming the OS", probs)
	}
	decl := []DCDeclaration{{Name: "dc1.corp.test", State: mapping.DCState{OS: mapping.OS2022}, OSSet: true, Origin: "dcs.yaml:2"}}
	dcs, probs := ResolveDCs(dir, decl, nil, corpAsOf)
	if len(probs) != 0 || len(dcs) != 1 || dcs[0].State.OS != mapping.OS2022 {
		t.Errorf("declared OS: DCs %+v, problems %v; want the declared OS and no problem", dcs, probs)
	}
}

// FuzzDecodePEMBlock checks the direct PEM decoder against pem.Decode.
func FuzzDecodePEMBlock(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\r\nMAMC\r\nAQE=\r\n-----END CERTIFICATE----- \r\n"))
	f.Add([]byte("-----BEGIN X-----\nProc-Type: 4,ENCRYPTED\n\nMAMCAQE=\n-----END X-----\n"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAMC AQE=\n-----END CERTIFICATE-----junk\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := decodePEMBlock(b)
		want, _ := pem.Decode(b)
		if !bytes.HasPrefix(b, []byte("-----BEGIN ")) {
			if got != nil {
				t.Fatalf("%q: decoded a block that does not start with BEGIN", b)
			}
			return
		}
		if bytes.Contains(b[1:], []byte("-----BEGIN")) {
			return // pemBlocks cuts the input before each BEGIN
		}
		if (got == nil) != (want == nil) {
			t.Fatalf("%q: direct %v, pem.Decode %v", b, got, want)
		}
		if got != nil && (got.Type != want.Type || !bytes.Equal(got.Bytes, want.Bytes)) {
			t.Fatalf("%q: direct %q %X, pem.Decode %q %X", b, got.Type, got.Bytes, want.Type, want.Bytes)
		}
	})
}

func TestReadBoundedContents(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 4095, 4096, 100_003} {
		want := bytes.Repeat([]byte{'x', 0, 0xFF}, n/3+1)[:n]
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, want, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readBounded(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%d bytes: got %d bytes, %v", n, len(got), err)
		}
	}
	if _, err := readBounded(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file read without error")
	}
}

func TestLDIFValuesPerAttributeBound(t *testing.T) {
	var b strings.Builder
	b.WriteString("dn: CN=g,DC=x\ncn: g\n")
	for i := range MaxValuesPerAttribute + 2 {
		fmt.Fprintf(&b, "member: CN=u%d\n", i)
	}
	b.WriteString("description: kept\n")
	recs, probs, err := ParseLDIF([]byte(b.String()), "big.ldf")
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if n := len(recs[0].Values("member")); n != MaxValuesPerAttribute {
		t.Errorf("%d member values kept, want the first %d", n, MaxValuesPerAttribute)
	}
	if v, ok := recs[0].First("description"); !ok || string(v) != "kept" {
		t.Errorf("an attribute after the bounded one was lost")
	}
	if len(probs) != 1 || !errors.Is(probs[0].Err, ErrTooLarge) {
		t.Errorf("problems %v, want one ErrTooLarge", probs)
	}
}
