package certkit

import (
	"bytes"
	"encoding/pem"
	"testing"

	"github.com/smallstep/pkcs7"
	"software.sslmate.com/src/go-pkcs12"
)

// fuzzSeeds returns the fixtures of the tests as seeds: PFX files (legacy,
// modern, with password, without key), PEM bundles, DER certificates and a
// PKCS#7.
func fuzzSeeds(f *testing.F) (imports [][]byte, chains [][]byte) {
	rsaChain, ecChain := testChains(f)
	for _, c := range []testChain{rsaChain, ecChain} {
		m := c.material()
		legacy, err := EncodePFX(m, true)
		if err != nil {
			f.Fatal(err)
		}
		modern, err := EncodePFX(m, false)
		if err != nil {
			f.Fatal(err)
		}
		withPassword, err := pkcs12.LegacyDES.Encode(m.Key, m.Chain[0], m.Chain[1:], "x")
		if err != nil {
			f.Fatal(err)
		}
		trustStore, err := pkcs12.LegacyDES.EncodeTrustStore(m.Chain, "")
		if err != nil {
			f.Fatal(err)
		}
		p7, err := pkcs7.DegenerateCertificate(bytes.Join([][]byte{c.inter.Raw, c.leaf.Raw}, nil))
		if err != nil {
			f.Fatal(err)
		}
		imports = append(imports, b64(legacy), b64(modern), b64(withPassword), EncodePEM(m),
			append(pemCerts(c.root, c.leaf), EncodePEM(Material{Key: c.leafKey, Chain: m.Chain[:1]})...))
		chains = append(chains, c.leaf.Raw, pemCerts(c.leaf, c.inter, c.root), p7,
			pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: p7}), trustStore, legacy)
	}
	return imports, chains
}

func FuzzParseImport(f *testing.F) {
	imports, _ := fuzzSeeds(f)
	for _, v := range imports {
		f.Add(v, "", bytes.HasPrefix(v, []byte("-----")), false)
		f.Add(v, "x", !bytes.HasPrefix(v, []byte("-----")), true)
	}
	f.Fuzz(func(t *testing.T, value []byte, password string, asPEM, preserve bool) {
		ct := ContentTypePKCS12
		if asPEM {
			ct = ContentTypePEM
		}
		m, err := ParseImport(value, password, ct, preserve)
		if err != nil {
			if m.Key != nil || m.Chain != nil {
				t.Fatalf("ParseImport returned material with error %v", err)
			}
			return
		}
		if m.Key == nil || len(m.Chain) == 0 || len(m.Chain) > MaxCertificates {
			t.Fatalf("ParseImport returned key %T and %d certificates", m.Key, len(m.Chain))
		}
		if findLeaf(m.Key.Public(), m.Chain) < 0 || (!preserve && findLeaf(m.Key.Public(), m.Chain) != 0) {
			t.Fatal("the leaf is missing or not first")
		}
		back, err := ParseImport(EncodePEM(m), "", ContentTypePEM, true)
		if err != nil || len(back.Chain) != len(m.Chain) {
			t.Fatalf("EncodePEM does not read back: %v", err)
		}
	})
}

func FuzzParseMergeChain(f *testing.F) {
	_, chains := fuzzSeeds(f)
	for i, c := range chains {
		f.Add(c, []byte(nil), false)
		f.Add(c, chains[(i+1)%len(chains)], true)
	}
	f.Fuzz(func(t *testing.T, first, second []byte, two bool) {
		x5c := [][]byte{first}
		if two {
			x5c = append(x5c, second)
		}
		certs, err := ParseMergeChain(x5c)
		if err != nil {
			if certs != nil {
				t.Fatalf("ParseMergeChain returned certificates with error %v", err)
			}
			return
		}
		if len(certs) == 0 || len(certs) > MaxCertificates {
			t.Fatalf("ParseMergeChain returned %d certificates", len(certs))
		}
		for _, c := range certs {
			if c == nil {
				t.Fatal("nil certificate")
			}
		}
	})
}

func FuzzParseSubject(f *testing.F) {
	for _, s := range []string{
		"CN=www.example.com", "cn=MyCert", "CN=a, O=Org, OU=Unit, L=City, ST=State, C=JP",
		`CN=Smith\, John; O="Quoted, ""Org"""`, `CN=\E3\83\86+OU=x, DC=example, DC=com`,
		"E=admin@example.com, OID.2.5.4.3=x, 1.2.3.4=#0c03616263", `CN=\ a\ `, "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := ParseSubject(s)
		der, derErr := subjectDER(s)
		if (err == nil) != (derErr == nil) {
			t.Fatalf("ParseSubject error %v but subjectDER error %v", err, derErr)
		}
		if err != nil {
			return
		}
		_ = name
		formatted, err := FormatSubject(der)
		if err != nil {
			t.Fatalf("FormatSubject of our own encoding: %v", err)
		}
		if len(formatted) > MaxSubjectLength {
			return // escaping can grow a subject past the limit
		}
		der2, err := subjectDER(formatted)
		if err != nil {
			t.Fatalf("ParseSubject(FormatSubject(%q) = %q): %v", s, formatted, err)
		}
		again, err := FormatSubject(der2)
		if err != nil || again != formatted {
			t.Fatalf("FormatSubject does not settle: %q -> %q -> %q (%v)", s, formatted, again, err)
		}
	})
}
