package mapaudit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/smallstep/pkcs7"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/tegata-project/tegata/mapping"
)

// update regenerates testdata/corp: go test ./internal/mapaudit -run TestCorpTestdata -update
var update = flag.Bool("update", false, "regenerate testdata/corp and the golden files")

const corpDomainSID = "S-1-5-21-3623811015-3361044348-30300820"

// corpAccount is one account of the contoso.com test directory and the
// certificate made for it.
type corpAccount struct {
	name     string // sAMAccountName; computers end in $
	rid      int
	computer bool
	disabled bool
	created  string // whenCreated
	altSec   []string
	// certificate: file under certs/ ("" = in the CA export), SID RID in
	// the SID extension (0 = none), SAN UPN / DNS, issuer (nil = CONTOSO).
	file      string
	certSID   int
	upn, dns  string
	notBefore time.Time
	thirdPty  bool
}

func corpAccounts() []*corpAccount {
	nb := time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)
	created := "20240115093012.0Z"
	return []*corpAccount{
		{name: "alice", rid: 1013, created: created, file: "alice.pem", certSID: 1013, upn: "alice@contoso.com", notBefore: nb},
		{name: "bob", rid: 1014, created: created, file: "bob.cer", upn: "bob@contoso.com", notBefore: nb},
		{name: "carol", rid: 1015, created: created, file: "bundle.p7b", upn: "carol@contoso.com", notBefore: nb},
		{name: "dave", rid: 1016, created: created, file: "bundle.p7b", certSID: 1099, upn: "dave@contoso.com", notBefore: nb},
		{name: "frank", rid: 1018, created: created, file: "frank.pfx", upn: "frank@contoso.com", notBefore: nb},
		{name: "WS01$", rid: 1100, computer: true, created: created, file: "computers/ws01.pem", dns: "ws01.contoso.com", notBefore: nb},
		{name: "grace", rid: 1019, created: "20250601120000.0Z", upn: "grace@contoso.com", notBefore: nb},
		{name: "harry", rid: 1020, created: created, upn: "harry@contoso.com", notBefore: nb},
		{name: "harry-admin", rid: 1021, created: created},
		{name: "ivan", rid: 1022, created: created, file: "ivan.pem", upn: "ivan@contoso.com", notBefore: nb, thirdPty: true},
		{name: "judy", rid: 1023, created: created, disabled: true, certSID: 1023, upn: "judy@contoso.com", notBefore: nb},
	}
}

func corpKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func corpCert(t *testing.T, tmpl, parent *x509.Certificate, pub any, signer *ecdsa.PrivateKey) *x509.Certificate {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemOf(der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}) }

// writeCorpTestdata generates testdata/corp: a CA, certificates in every
// supported format, an ldifde export, a certutil CSV export, DC
// declarations and a UTF-16 reg export.
func writeCorpTestdata(t *testing.T, dir string) {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.RemoveAll(dir))
	must(os.MkdirAll(filepath.Join(dir, "certs", "computers"), 0o755))
	write := func(name string, b []byte) { must(os.WriteFile(filepath.Join(dir, name), b, 0o644)) }
	caKey, tpKey, leafKey := corpKey(t), corpKey(t), corpKey(t)
	caName := pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
		{Type: oidDC, Value: "com"}, {Type: oidDC, Value: "contoso"}, {Type: oidCN, Value: "CONTOSO-DC-CA"}}}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: caName, NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	ca := corpCert(t, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	tpTmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{Country: []string{"JP"}, Province: []string{"Tokyo"},
		Organization: []string{"Example, Inc."}, CommonName: "Example Issuing CA G2"}, NotBefore: caTmpl.NotBefore, NotAfter: caTmpl.NotAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	tp := corpCert(t, tpTmpl, tpTmpl, &tpKey.PublicKey, tpKey)
	write("ca.pem", pemOf(ca.Raw))
	write("example-ca.pem", pemOf(tp.Raw))

	accts := corpAccounts()
	leaves := map[string]*x509.Certificate{}
	var www *x509.Certificate
	for i, a := range accts {
		if a.notBefore.IsZero() {
			continue
		}
		serial := make([]byte, 12)
		binary.BigEndian.PutUint32(serial, 0x2B000000|uint32(i))
		binary.BigEndian.PutUint64(serial[4:], uint64(a.rid)*0x0100000001)
		var exts []pkix.Extension
		san, err := SANExtension(nonEmpty(a.upn), nonEmpty(a.dns), nil)
		must(err)
		exts = append(exts, san)
		if a.certSID != 0 {
			sid, _ := mapping.ParseSID(fmt.Sprintf("%s-%d", corpDomainSID, a.certSID))
			e, err := mapping.SIDExtension(sid)
			must(err)
			exts = append(exts, e)
		}
		tmpl := &x509.Certificate{SerialNumber: new(big.Int).SetBytes(serial),
			Subject:   pkix.Name{CommonName: strings.TrimSuffix(a.name, "$")},
			NotBefore: a.notBefore, NotAfter: a.notBefore.AddDate(2, 0, 0), ExtraExtensions: exts,
			SubjectKeyId: serial[len(serial)-8:], KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		parent, signer := ca, caKey
		if a.thirdPty {
			parent, signer = tp, tpKey
		}
		leaves[a.name] = corpCert(t, tmpl, parent, &leafKey.PublicKey, signer)
	}
	www = corpCert(t, &x509.Certificate{SerialNumber: big.NewInt(0x5A17), Subject: pkix.Name{CommonName: "www.contoso.com"},
		DNSNames: []string{"www.contoso.com"}, NotBefore: time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, &leafKey.PublicKey, caKey)

	// Certificates in every file format.
	write("certs/alice.pem", append(pemOf(leaves["alice"].Raw), pemOf(ca.Raw)...))
	write("certs/bob.cer", leaves["bob"].Raw)
	p7, err := pkcs7.DegenerateCertificate(append(append([]byte{}, leaves["carol"].Raw...), leaves["dave"].Raw...))
	must(err)
	write("certs/bundle.p7b", p7)
	pfx, err := pkcs12.Modern.Encode(leafKey, leaves["frank"], []*x509.Certificate{ca}, "tegata-demo")
	must(err)
	write("certs/frank.pfx", pfx)
	write("certs/computers/ws01.pem", pemOf(leaves["WS01$"].Raw))
	write("certs/www.pem", pemOf(www.Raw))
	write("certs/ivan.pem", append(pemOf(leaves["ivan"].Raw), pemOf(tp.Raw)...))
	write("certs/broken.pem", []byte("-----BEGIN CERTIFICATE-----\nMIIB!!!not base64!!!\n-----END CERTIFICATE-----\n"))

	// The CA database export: grace, harry and judy.
	var csv strings.Builder
	csv.WriteString("\"Issued Request ID\",\"Requester Name\",\"Serial Number\",\"Certificate Template\",\"Binary Certificate\"\r\n")
	for n, name := range []string{"grace", "harry", "judy"} {
		c := leaves[name]
		pemText := strings.ReplaceAll(string(pemOf(c.Raw)), "\n", "\r\n")
		fmt.Fprintf(&csv, "\"%d\",\"CONTOSO\\svc-ndes\",\"%x\",\"User\",\"%s\"\r\n", 4711+n, c.SerialNumber.Bytes(), pemText)
	}
	write("issued.csv", []byte(csv.String()))

	// The ldifde export.
	var ldif strings.Builder
	ldif.WriteString("# ldifde -f corp.ldf -d \"DC=contoso,DC=com\" -r \"(|(objectClass=user)(objectClass=computer))\"\n\n")
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	for _, dc := range []struct {
		name, os, ver string
		rid           int
	}{{"DC1", "Windows Server 2022 Datacenter", "10.0 (20348)", 1001}, {"DC2", "Windows Server 2016 Standard", "10.0 (14393)", 1002}} {
		sid, _ := mapping.ParseSID(fmt.Sprintf("%s-%d", corpDomainSID, dc.rid))
		fmt.Fprintf(&ldif, "dn: CN=%s,OU=Domain Controllers,DC=contoso,DC=com\nchangetype: add\nobjectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\nobjectClass: user\nobjectClass: computer\nobjectSid:: %s\nsAMAccountName: %s$\ndNSHostName: %s.contoso.com\nuserAccountControl: 532480\noperatingSystem: %s\noperatingSystemVersion: %s\nwhenCreated: 20200101000000.0Z\n\n",
			dc.name, b64(sid.Bytes()), dc.name, strings.ToLower(dc.name), dc.os, dc.ver)
	}
	for _, a := range accts {
		sid, _ := mapping.ParseSID(fmt.Sprintf("%s-%d", corpDomainSID, a.rid))
		cn := strings.TrimSuffix(a.name, "$")
		if a.computer {
			fmt.Fprintf(&ldif, "dn: CN=%s,CN=Computers,DC=contoso,DC=com\nchangetype: add\nobjectClass: computer\n", cn)
		} else {
			fmt.Fprintf(&ldif, "dn: CN=%s,CN=Users,DC=contoso,DC=com\nchangetype: add\nobjectClass: user\n", cn)
		}
		fmt.Fprintf(&ldif, "objectSid:: %s\nsAMAccountName: %s\n", b64(sid.Bytes()), a.name)
		uac := 512
		switch {
		case a.computer:
			uac = 4096
			fmt.Fprintf(&ldif, "dNSHostName: %s\n", a.dns)
		case a.name != "harry-admin":
			fmt.Fprintf(&ldif, "userPrincipalName: %s@contoso.com\n", a.name)
		}
		if a.disabled {
			uac |= 2
		}
		fmt.Fprintf(&ldif, "userAccountControl: %d\nwhenCreated: %s\n", uac, a.created)
		c := leaves[a.name]
		switch a.name {
		case "carol", "harry", "harry-admin", "ivan":
			src := leaves[a.name]
			if a.name == "harry-admin" {
				src = leaves["harry"]
			}
			cert, _ := mapping.ParseCertificate(src.Raw)
			v, _ := mapping.Render(cert, mapping.X509IssuerSerialNumber)
			writeFolded(&ldif, "altSecurityIdentities: "+v)
		case "frank":
			// The RFC 4514 rendering many scripts write: the KDC never
			// matches it.
			cert, _ := mapping.ParseCertificate(c.Raw)
			fmt.Fprintf(&ldif, "altSecurityIdentities: X509:<I>CN=CONTOSO-DC-CA, DC=contoso, DC=com<SR>%s\n", mapping.ReversedSerial(cert.RawSerial))
		case "alice":
			writeFolded(&ldif, "userCertificate:: "+b64(c.Raw))
		}
		ldif.WriteString("\n")
	}
	ldif.WriteString("dn: CN=NTAuthCertificates,CN=Public Key Services,CN=Services,CN=Configuration,DC=contoso,DC=com\nchangetype: add\nobjectClass: certificationAuthority\n")
	writeFolded(&ldif, "cACertificate:: "+b64(ca.Raw))
	write("corp.ldf", []byte(ldif.String()))

	write("dcs.yaml", []byte(`# The facts AD does not hold: each DC's newest cumulative update and KDC registry values.
domainControllers:
  - name: dc1.contoso.com
    lastUpdate: 2025-10-14
  - name: dc2.contoso.com
    os: 2016
    lastUpdate: 2025-01-14
    kdc:
      StrongCertificateBindingEnforcement: 1
`))
	reg := "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\Kdc]\r\n\"StrongCertificateBindingEnforcement\"=dword:00000001\r\n\"CertificateBackdatingCompensation\"=dword:01e13380\r\n\r\n"
	u := utf16.Encode([]rune(reg))
	out := []byte{0xFF, 0xFE}
	for _, r := range u {
		out = append(out, byte(r), byte(r>>8))
	}
	write("dc2-kdc.reg", out)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// writeFolded writes an LDIF line folded at 76 columns, as ldifde does.
func writeFolded(b *strings.Builder, line string) {
	n := min(len(line), 76)
	b.WriteString(line[:n])
	for line = line[n:]; len(line) > 0; line = line[n:] {
		n = min(len(line), 75)
		b.WriteString("\n " + line[:n])
	}
	b.WriteString("\n")
}
