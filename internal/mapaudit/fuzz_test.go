package mapaudit

import (
	"bytes"
	"os"
	"testing"
)

func seedFile(f *testing.F, path string) {
	if b, err := os.ReadFile(path); err == nil {
		f.Add(b)
	}
}

func FuzzParseLDIF(f *testing.F) {
	seedFile(f, "testdata/corp/corp.ldf")
	seedFile(f, "testdata/corp/fix.ldf.golden")
	f.Add([]byte("version: 1\ndn:: Q049YQ==\nobjectSid:: AQUAAAAAAAUVAAAA\nx;range=0-*: a\n b\n# c\n\n"))
	f.Add([]byte("dn: CN=a\nchangetype: modify\nadd: altSecurityIdentities\naltSecurityIdentities: v\n-\n"))
	f.Add([]byte("dn: a\nu:< file:///x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, _, err := ParseLDIF(data, "fuzz.ldf")
		if err != nil {
			return
		}
		for _, r := range recs {
			if r.Line <= 0 {
				t.Fatalf("record without a line: %+v", r)
			}
		}
		d, _ := ReadLDIFDirectory(bytes.NewReader(data), "fuzz.ldf")
		for _, a := range d.Accounts {
			if !a.ObjectSID.Valid() {
				t.Fatalf("account with an invalid SID: %+v", a)
			}
		}
	})
}

func FuzzParseCertutilCSV(f *testing.F) {
	seedFile(f, "testdata/corp/issued.csv")
	f.Add([]byte("\"Request ID\",\"Binary Certificate\"\r\n\"1\",\"EMPTY\"\r\n"))
	f.Add([]byte("a,b\n\"unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ReadCertutilCSV(data, "fuzz.csv", func(in CertificateInput) {
			if in.Cert == nil {
				t.Fatal("nil certificate")
			}
		})
	})
}

func FuzzParseReg(f *testing.F) {
	seedFile(f, "testdata/corp/dc2-kdc.reg")
	f.Add([]byte("Windows Registry Editor Version 5.00\n[HKLM\\SYSTEM\\CurrentControlSet\\Services\\Kdc]\n\"A\"=dword:1\\\n  2\n\"B\"=-\n@=\"x\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseRegExport(data, "fuzz.reg")
	})
}

func FuzzParseDCDeclarations(f *testing.F) {
	seedFile(f, "testdata/corp/dcs.yaml")
	f.Add([]byte("domainControllers:\n  - name: a\n    kdc: {StrongCertificateBindingEnforcement: 9}\n    os: 2008r2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		decls, _, err := ParseDCDeclarations(data, "fuzz.yaml")
		if err == nil {
			for _, d := range decls {
				if d.Name == "" {
					t.Fatal("declaration without a name")
				}
			}
		}
	})
}

func FuzzDecodeCertificates(f *testing.F) {
	for _, p := range []string{"testdata/corp/certs/alice.pem", "testdata/corp/certs/bundle.p7b", "testdata/corp/certs/bob.cer"} {
		seedFile(f, p)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		DecodeCertificates(data, "fuzz", CertFileOptions{}, func(in CertificateInput) {
			if in.Cert == nil {
				t.Fatal("nil certificate")
			}
		})
	})
}
