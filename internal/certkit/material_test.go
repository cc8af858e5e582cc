package certkit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"
)

func b64(der []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(der)) }

// wrap64 breaks s into lines of 64 characters, as PEM tools write base64.
func wrap64(s []byte) []byte {
	var out []byte
	for len(s) > 64 {
		out = append(append(out, s[:64]...), '\r', '\n')
		s = s[64:]
	}
	return append(out, s...)
}

func TestRoundTrip(t *testing.T) {
	rsaChain, ecChain := testChains(t)
	for _, c := range []struct {
		name  string
		chain testChain
	}{{"RSA", rsaChain}, {"ECDSA", ecChain}} {
		m := c.chain.material()
		want := []*x509.Certificate{c.chain.leaf, c.chain.inter, c.chain.root}
		legacy, err := EncodePFX(m, true)
		if err != nil {
			t.Fatal(err)
		}
		modern, err := EncodePFX(m, false)
		if err != nil {
			t.Fatal(err)
		}
		pemText := EncodePEM(m)
		for _, tc := range []struct {
			name, contentType string
			value             []byte
		}{
			{"legacy PFX", ContentTypePKCS12, b64(legacy)},
			{"modern PFX", ContentTypePKCS12, b64(modern)},
			{"PFX, empty content type, wrapped base64 without padding", "", wrap64(bytes.TrimRight(b64(modern), "="))},
			{"PEM", ContentTypePEM, pemText},
			{"PEM, content type in another case", "Application/X-PEM-File", pemText},
		} {
			t.Run(c.name+"/"+tc.name, func(t *testing.T) {
				got, err := ParseImport(tc.value, "", tc.contentType, false)
				if err != nil {
					t.Fatal(err)
				}
				sameKey(t, got.Key, c.chain.leafKey)
				sameChain(t, got.Chain, want)
				if !got.Leaf().Equal(c.chain.leaf) {
					t.Error("Leaf() is not the leaf")
				}
			})
		}
		t.Run(c.name+"/PFXToPEM", func(t *testing.T) {
			for _, in := range [][]byte{legacy, modern, b64(legacy), wrap64(b64(modern))} {
				got, err := PFXToPEM(in)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, pemText) {
					t.Errorf("PFXToPEM =\n%s\nwant EncodePEM =\n%s", got, pemText)
				}
			}
		})
	}
}

func TestPFXEncodings(t *testing.T) {
	rsaChain, _ := testChains(t)
	m := rsaChain.material()
	for _, tc := range []struct {
		legacy   bool
		macAlg   asn1.ObjectIdentifier
		certsAlg asn1.ObjectIdentifier
	}{
		{true, oidSHA1, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}}, // pbeWithSHAAnd3-KeyTripleDES-CBC
		{false, oidSHA256, oidPBES2},
	} {
		der, err := EncodePFX(m, tc.legacy)
		if err != nil {
			t.Fatal(err)
		}
		pfx, safes, err := checkPFX(der)
		if err != nil {
			t.Fatal(err)
		}
		if !pfx.MacData.Mac.Algorithm.Algorithm.Equal(tc.macAlg) {
			t.Errorf("legacy=%v: MAC algorithm %v, want %v", tc.legacy, pfx.MacData.Mac.Algorithm.Algorithm, tc.macAlg)
		}
		var ed encryptedData
		if err := unmarshalAll(safes[0].Content.Bytes, &ed); err != nil {
			t.Fatal(err)
		}
		if alg := ed.EncryptedContentInfo.ContentEncryptionAlgorithm.Algorithm; !alg.Equal(tc.certsAlg) {
			t.Errorf("legacy=%v: certificates encrypted with %v, want %v", tc.legacy, alg, tc.certsAlg)
		}
	}
}

func TestParseImportPEMShapes(t *testing.T) {
	rsaChain, ecChain := testChains(t)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaChain.leafKey.(*rsa.PrivateKey))})
	sec1DER, _ := x509.MarshalECPrivateKey(ecChain.leafKey.(*ecdsa.PrivateKey))
	sec1 := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1DER})
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
	for _, tc := range []struct {
		name     string
		value    []byte
		chain    testChain
		preserve bool
		want     []*x509.Certificate
	}{
		{"PKCS#1 key last, root first", append(pemCerts(rsaChain.root, rsaChain.inter, rsaChain.leaf), pkcs1...), rsaChain, false,
			[]*x509.Certificate{rsaChain.leaf, rsaChain.inter, rsaChain.root}},
		{"SEC1 key between certificates, comments and EC PARAMETERS", bytes.Join([][]byte{
			[]byte("subject=CN=www.example.com\n"), pemCert(ecChain.inter), params, sec1, pemCert(ecChain.leaf), []byte("trailing text\n"),
		}, nil), ecChain, false, []*x509.Certificate{ecChain.leaf, ecChain.inter}},
		{"preserve order", append(pemCerts(rsaChain.root, rsaChain.leaf, rsaChain.inter), pkcs1...), rsaChain, true,
			[]*x509.Certificate{rsaChain.root, rsaChain.leaf, rsaChain.inter}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseImport(tc.value, "ignored", ContentTypePEM, tc.preserve)
			if err != nil {
				t.Fatal(err)
			}
			sameKey(t, m.Key, tc.chain.leafKey)
			sameChain(t, m.Chain, tc.want)
			if !m.Leaf().Equal(tc.chain.leaf) {
				t.Errorf("Leaf() = %s", m.Leaf().Subject)
			}
			// The secret keeps the order: PEM exactly, PFX with the leaf's bag first.
			back, err := ParseImport(EncodePEM(m), "", ContentTypePEM, true)
			if err != nil {
				t.Fatal(err)
			}
			sameChain(t, back.Chain, tc.want)
			pfx, err := EncodePFX(m, true)
			if err != nil {
				t.Fatal(err)
			}
			back, err = ParseImport(b64(pfx), "", ContentTypePKCS12, true)
			if err != nil {
				t.Fatal(err)
			}
			wantPFX := []*x509.Certificate{tc.chain.leaf}
			for _, c := range tc.want {
				if !c.Equal(tc.chain.leaf) {
					wantPFX = append(wantPFX, c)
				}
			}
			sameChain(t, back.Chain, wantPFX)
		})
	}
}

func TestParseImportPFXPasswords(t *testing.T) {
	rsaChain, _ := testChains(t)
	m := rsaChain.material()
	withPassword, err := pkcs12.LegacyDES.Encode(m.Key, m.Chain[0], m.Chain[1:], "s3cret-パス")
	if err != nil {
		t.Fatal(err)
	}
	noMAC, err := pkcs12.Passwordless.Encode(m.Key, m.Chain[0], m.Chain[1:], "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseImport(b64(withPassword), "s3cret-パス", "", false); err != nil {
		t.Errorf("right password: %v", err)
	}
	_, err = ParseImport(b64(withPassword), "", "", false)
	if !errors.Is(err, ErrBadPFX) || !errors.Is(err, pkcs12.ErrIncorrectPassword) || !strings.Contains(err.Error(), "pwd") {
		t.Errorf("wrong password: %v, want ErrBadPFX wrapping pkcs12.ErrIncorrectPassword and naming pwd", err)
	}
	got, err := ParseImport(b64(noMAC), "", ContentTypePKCS12, false)
	if err != nil {
		t.Fatalf("PFX without MAC or encryption: %v", err)
	}
	sameChain(t, got.Chain, m.Chain)
}

// setIterations returns der with the MAC iteration count, or the first
// encrypted safe's, set to n; in the second case the MAC is re-sealed, so
// that only the iteration limit can refuse the result early.
func setIterations(t *testing.T, der []byte, mac bool, n int) []byte {
	t.Helper()
	pfx, safes, err := checkPFX(der)
	if err != nil {
		t.Fatal(err)
	}
	if mac {
		pfx.MacData.Iterations = n
		out, err := asn1.Marshal(pfx)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var ed encryptedData
	if err := unmarshalAll(safes[0].Content.Bytes, &ed); err != nil {
		t.Fatal(err)
	}
	var p pbeParams
	if err := unmarshalAll(ed.EncryptedContentInfo.ContentEncryptionAlgorithm.Parameters.FullBytes, &p); err != nil {
		t.Fatal(err)
	}
	p.Iterations = n
	params, _ := asn1.Marshal(p)
	ed.EncryptedContentInfo.ContentEncryptionAlgorithm.Parameters = asn1.RawValue{FullBytes: params}
	inner, _ := asn1.Marshal(ed)
	safes[0].Content = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}
	authSafe, _ := asn1.Marshal(safes)
	if pfx.MacData.Mac.Digest, err = pfxMAC(&pfx.MacData, authSafe, []byte{0, 0}); err != nil {
		t.Fatal(err)
	}
	if pfx.AuthSafe, err = dataContentInfo(authSafe); err != nil {
		t.Fatal(err)
	}
	out, _ := asn1.Marshal(pfx)
	return out
}

func TestParseImportErrors(t *testing.T) {
	rsaChain, ecChain := testChains(t)
	m := rsaChain.material()
	pemText := EncodePEM(m)
	keyBlock := pemText[:bytes.Index(pemText, []byte("-----BEGIN CERTIFICATE"))]
	certBlocks := pemText[len(keyBlock):]
	legacy, _ := EncodePFX(m, true)
	trustStore, _ := pkcs12.LegacyDES.EncodeTrustStore(m.Chain, "")
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edKey)
	edPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER})
	tooMany := bytes.Repeat(pemCert(rsaChain.root), MaxCertificates+1)
	for _, tc := range []struct {
		name, contentType string
		value             []byte
		is                error
		field             string // a policy field, or "iterations" for the iteration limit
	}{
		{"encrypted PKCS#8", ContentTypePEM, append(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}}), certBlocks...), ErrEncryptedKey, ""},
		{"encrypted legacy PEM", ContentTypePEM, append(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}}), certBlocks...), ErrEncryptedKey, ""},
		{"two keys", ContentTypePEM, append(append(append([]byte{}, keyBlock...), keyBlock...), certBlocks...), ErrMultipleKeys, ""},
		{"no key", ContentTypePEM, certBlocks, ErrNoPrivateKey, ""},
		{"no certificate", ContentTypePEM, keyBlock, ErrNoCertificate, ""},
		{"key of another chain", ContentTypePEM, append(append([]byte{}, keyBlock...), pemCerts(ecChain.leaf, ecChain.inter)...), ErrKeyMismatch, ""},
		{"Ed25519", ContentTypePEM, append(edPEM, certBlocks...), ErrUnsupportedKey, ""},
		{"DSA", ContentTypePEM, append(pem.EncodeToMemory(&pem.Block{Type: "DSA PRIVATE KEY", Bytes: []byte{0x30, 0}}), certBlocks...), ErrUnsupportedKey, ""},
		{"malformed key", ContentTypePEM, append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0}}), certBlocks...), ErrBadPEM, ""},
		{"malformed certificate", ContentTypePEM, append(append([]byte{}, keyBlock...), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0}})...), ErrBadPEM, ""},
		{"base64 sent as PEM", ContentTypePEM, b64(legacy), ErrBadPEM, ""},
		{"too many certificates", ContentTypePEM, append(append([]byte{}, keyBlock...), tooMany...), ErrTooLarge, ""},
		{"too large", ContentTypePEM, make([]byte, MaxImportSize+1), ErrTooLarge, ""},
		{"content type", "text/plain", pemText, nil, "secret_props.contentType"},
		{"PEM sent as PFX", ContentTypePKCS12, pemText, ErrBadPFX, ""},
		{"not a PFX", ContentTypePKCS12, b64([]byte("hello")), ErrBadPFX, ""},
		{"PFX without key", ContentTypePKCS12, b64(trustStore), ErrNoPrivateKey, ""},
		{"MAC iterations", ContentTypePKCS12, b64(setIterations(t, legacy, true, maxIterations+1)), ErrBadPFX, "iterations"},
		{"encryption iterations", ContentTypePKCS12, b64(setIterations(t, legacy, false, maxIterations+1)), ErrBadPFX, "iterations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseImport(tc.value, "", tc.contentType, false)
			if err == nil {
				t.Fatal("ParseImport succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("ParseImport = %v, want %v", err, tc.is)
			}
			var pe *PolicyError
			if tc.field == "iterations" {
				if !strings.Contains(err.Error(), "key-derivation iterations") {
					t.Errorf("ParseImport = %v, want the iteration limit", err)
				}
			} else if tc.field != "" && (!errors.As(err, &pe) || pe.Field != tc.field) {
				t.Errorf("ParseImport = %v, want a *PolicyError for %s", err, tc.field)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY-----") || strings.Contains(err.Error(), string(keyBlock[40:80])) {
				t.Errorf("error message carries key material: %v", err)
			}
		})
	}
	// At the iteration limit the PFX is still read (the MAC is then wrong).
	if _, err := ParseImport(b64(setIterations(t, legacy, true, maxIterations)), "", "", false); err == nil || strings.Contains(err.Error(), "iterations") {
		t.Errorf("MAC iterations at the limit: %v, want a MAC error, not the iteration limit", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	rsaChain, ecChain := testChains(t)
	for _, tc := range []struct {
		name string
		m    Material
		is   error
	}{
		{"no key", Material{Chain: []*x509.Certificate{rsaChain.leaf}}, ErrNoPrivateKey},
		{"no chain", Material{Key: rsaChain.leafKey}, ErrNoCertificate},
		{"mismatch", Material{Key: rsaChain.leafKey, Chain: []*x509.Certificate{ecChain.leaf}}, ErrKeyMismatch},
	} {
		if _, err := EncodePFX(tc.m, true); !errors.Is(err, tc.is) {
			t.Errorf("%s: EncodePFX = %v, want %v", tc.name, err, tc.is)
		}
	}
	if EncodePEM(Material{Key: rsaChain.leafKey}) != nil || EncodePEM(Material{Chain: []*x509.Certificate{rsaChain.leaf}}) != nil {
		t.Error("EncodePEM of incomplete material is not nil")
	}
	if _, err := PFXToPEM([]byte("!!!")); !errors.Is(err, ErrBadPFX) {
		t.Errorf("PFXToPEM(garbage) = %v, want ErrBadPFX", err)
	}
}

func TestEncodePEMOrder(t *testing.T) {
	rsaChain, _ := testChains(t)
	out := EncodePEM(rsaChain.material())
	var types []string
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		if b, out = pem.Decode(out); b == nil {
			break
		}
		types = append(types, b.Type)
		if b.Type == "CERTIFICATE" {
			c, _ := x509.ParseCertificate(b.Bytes)
			certs = append(certs, c)
		} else if _, err := x509.ParsePKCS8PrivateKey(b.Bytes); err != nil {
			t.Errorf("key block is not PKCS#8: %v", err)
		}
	}
	if strings.Join(types, ",") != "PRIVATE KEY,CERTIFICATE,CERTIFICATE,CERTIFICATE" {
		t.Errorf("blocks = %v", types)
	}
	sameChain(t, certs, []*x509.Certificate{rsaChain.leaf, rsaChain.inter, rsaChain.root})
}

func TestX5T(t *testing.T) {
	// SHA-1("abc") = a9993e36 4706816a ba3e2571 7850c26c 9cd0d89d (FIPS 180).
	if got, want := X5T([]byte("abc")), "qZk-NkcGgWq6PiVxeFDCbJzQ2J0"; got != want {
		t.Errorf("X5T(abc) = %q, want %q", got, want)
	}
}
