package certkit

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
	"software.sslmate.com/src/go-pkcs12"
)

func permutations(cs []*x509.Certificate) [][]*x509.Certificate {
	if len(cs) <= 1 {
		return [][]*x509.Certificate{append([]*x509.Certificate(nil), cs...)}
	}
	var out [][]*x509.Certificate
	for i := range cs {
		rest := append(append([]*x509.Certificate(nil), cs[:i]...), cs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]*x509.Certificate{cs[i]}, p...))
		}
	}
	return out
}

func TestOrderChain(t *testing.T) {
	rsaChain, ecChain := testChains(t)
	leaf, inter, root := rsaChain.leaf, rsaChain.inter, rsaChain.root
	stranger := ecChain.root
	// decoy has the intermediate's name but another key: only the
	// signature check tells it from the real intermediate.
	decoy, err := issue(&x509.Certificate{Subject: inter.Subject, IsCA: true}, root, rsaChain.rootKey, ecChain.interKey.Public(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range permutations([]*x509.Certificate{leaf, inter, root}) {
		t.Run(fmt.Sprint(names(p)), func(t *testing.T) {
			got, err := OrderChain(rsaChain.leafKey.Public(), p, false)
			if err != nil {
				t.Fatal(err)
			}
			sameChain(t, got, []*x509.Certificate{leaf, inter, root})
			got, err = OrderChain(rsaChain.leafKey.Public(), p, true)
			if err != nil {
				t.Fatal(err)
			}
			sameChain(t, got, p)
		})
	}
	for _, tc := range []struct {
		name string
		in   []*x509.Certificate
		want []*x509.Certificate
	}{
		{"strangers go last in received order", []*x509.Certificate{stranger, root, decoy, leaf, inter}, []*x509.Certificate{leaf, inter, root, stranger, decoy}},
		{"decoy before the intermediate", []*x509.Certificate{leaf, decoy, inter, root}, []*x509.Certificate{leaf, inter, root, decoy}},
		{"missing intermediate", []*x509.Certificate{root, leaf}, []*x509.Certificate{leaf, root}},
		{"leaf alone", []*x509.Certificate{leaf}, []*x509.Certificate{leaf}},
		{"duplicate intermediate", []*x509.Certificate{inter, leaf, inter}, []*x509.Certificate{leaf, inter, inter}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := OrderChain(rsaChain.leafKey.Public(), tc.in, false)
			if err != nil {
				t.Fatal(err)
			}
			sameChain(t, got, tc.want)
		})
	}
	if _, err := OrderChain(ecChain.leafKey.Public(), []*x509.Certificate{leaf, inter}, true); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("preserveOrder without the leaf: %v, want ErrKeyMismatch", err)
	}
	if _, err := OrderChain(ecChain.leafKey.Public(), []*x509.Certificate{leaf, inter}, false); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("key mismatch: %v, want ErrKeyMismatch", err)
	}
	if _, err := OrderChain("not a key", []*x509.Certificate{leaf}, false); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("non-key: %v, want ErrKeyMismatch", err)
	}
	if _, err := OrderChain(rsaChain.leafKey.Public(), nil, false); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("no certificates: %v, want ErrNoCertificate", err)
	}
}

// keylessPFX returns a PFX of m's certificates without the key: the key
// safe enc writes is dropped (or replaced by an empty safe when twoSafes)
// and the MAC re-sealed with macPassword.
func keylessPFX(t *testing.T, enc *pkcs12.Encoder, m Material, macPassword []byte, twoSafes bool) []byte {
	t.Helper()
	der, err := enc.Encode(m.Key, m.Chain[0], m.Chain[1:], "")
	if err != nil {
		t.Fatal(err)
	}
	pfx, safes, err := checkPFX(der)
	if err != nil {
		t.Fatal(err)
	}
	var kept []contentInfo
	for _, s := range safes {
		if s.ContentType.Equal(oidEncryptedData) {
			kept = append(kept, s)
		}
	}
	if len(kept) != 1 {
		t.Fatalf("go-pkcs12 wrote %d encrypted safes, want 1", len(kept))
	}
	if twoSafes {
		empty, _ := dataContentInfo([]byte{0x30, 0})
		kept = append(kept, empty)
	}
	authSafe, _ := asn1.Marshal(kept)
	if pfx.MacData.Mac.Digest, err = pfxMAC(&pfx.MacData, authSafe, macPassword); err != nil {
		t.Fatal(err)
	}
	if pfx.AuthSafe, err = dataContentInfo(authSafe); err != nil {
		t.Fatal(err)
	}
	out, err := asn1.Marshal(pfx)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseMergeChain(t *testing.T) {
	rsaChain, _ := testChains(t)
	m := rsaChain.material()
	leaf, inter, root := rsaChain.leaf, rsaChain.inter, rsaChain.root
	shuffled := []*x509.Certificate{inter, leaf, root}
	p7, err := pkcs7.DegenerateCertificate(bytes.Join([][]byte{inter.Raw, leaf.Raw, root.Raw}, nil))
	if err != nil {
		t.Fatal(err)
	}
	p7PEM := pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: p7})
	trustStore, err := pkcs12.Modern2023.EncodeTrustStore(shuffled, "")
	if err != nil {
		t.Fatal(err)
	}
	legacyShuffled := Material{Key: m.Key, Chain: shuffled}
	for _, tc := range []struct {
		name string
		x5c  [][]byte
		want []*x509.Certificate // as received
	}{
		{"DER entries", [][]byte{inter.Raw, leaf.Raw, root.Raw}, shuffled},
		{"one DER certificate", [][]byte{leaf.Raw}, []*x509.Certificate{leaf}},
		{"PEM bundle", [][]byte{append([]byte("\n# chain\n"), pemCerts(inter, leaf, root)...)}, shuffled},
		{"PKCS#7 DER", [][]byte{p7}, shuffled},
		{"PKCS#7 PEM", [][]byte{p7PEM}, shuffled},
		{"PEM with PKCS7 and CERTIFICATE blocks", [][]byte{append(append([]byte{}, p7PEM...), pemCert(root)...)}, []*x509.Certificate{inter, leaf, root, root}},
		{"mixed entries", [][]byte{leaf.Raw, pemCerts(inter, root)}, []*x509.Certificate{leaf, inter, root}},
		{"PFX trust store", [][]byte{trustStore}, shuffled},
		{"PFX, one safe, 3DES, empty password with terminator", [][]byte{keylessPFX(t, pkcs12.LegacyDES, legacyShuffled, []byte{0, 0}, false)}, shuffled},
		{"PFX, one safe, AES, empty password without terminator", [][]byte{keylessPFX(t, pkcs12.Modern2023, legacyShuffled, nil, false)}, shuffled},
		{"PFX, two safes", [][]byte{keylessPFX(t, pkcs12.LegacyDES, legacyShuffled, []byte{0, 0}, true)}, shuffled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMergeChain(tc.x5c)
			if err != nil {
				t.Fatal(err)
			}
			sameChain(t, got, tc.want)
			ordered, err := OrderChain(rsaChain.leafKey.Public(), got, false)
			if err != nil {
				t.Fatal(err)
			}
			want := []*x509.Certificate{leaf, inter, root}[:min(3, len(got))]
			sameChain(t, ordered[:len(want)], want)
		})
	}
}

func TestParseMergeChainErrors(t *testing.T) {
	rsaChain, _ := testChains(t)
	m := rsaChain.material()
	withKey, _ := EncodePFX(m, true)
	emptyP7, err := asn1.Marshal(struct {
		OID     asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}, asn1.RawValue{FullBytes: mustMarshal(t, struct {
		Version          int
		DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
		ContentInfo      struct{ OID asn1.ObjectIdentifier }
		SignerInfos      []asn1.RawValue `asn1:"set"`
	}{Version: 1, DigestAlgorithms: []pkix.AlgorithmIdentifier{}, ContentInfo: struct{ OID asn1.ObjectIdentifier }{oidData}, SignerInfos: []asn1.RawValue{}})}})
	if err != nil {
		t.Fatal(err)
	}
	many := make([][]byte, MaxCertificates+1)
	for i := range many {
		many[i] = rsaChain.root.Raw
	}
	for _, tc := range []struct {
		name string
		x5c  [][]byte
		is   error
	}{
		{"nothing", nil, ErrNoCertificate},
		{"empty entry", [][]byte{{}}, ErrBadChain},
		{"garbage", [][]byte{[]byte("not a certificate")}, ErrBadChain},
		{"broken DER certificate", [][]byte{rsaChain.leaf.Raw[:len(rsaChain.leaf.Raw)-1]}, ErrBadChain},
		{"malformed certificate", [][]byte{{0x30, 0x03, 0x30, 0x01, 0x00}}, ErrBadChain},
		{"PEM without certificates", [][]byte{pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}})}, ErrBadChain},
		{"PEM with a key", [][]byte{EncodePEM(m)}, ErrUnexpectedKey},
		{"PFX with a key", [][]byte{withKey}, ErrUnexpectedKey},
		{"PFX with a password", [][]byte{keylessPFX(t, pkcs12.LegacyDES, m, []byte{0, 'x', 0, 0}, false)}, ErrBadPFX},
		{"PKCS#7 without certificates", [][]byte{emptyP7}, ErrBadChain},
		{"too many entries", many, ErrTooLarge},
		{"too many in one PEM", [][]byte{bytes.Repeat(pemCert(rsaChain.root), MaxCertificates+1)}, ErrTooLarge},
		{"too many in all", [][]byte{bytes.Repeat(pemCert(rsaChain.root), MaxCertificates), rsaChain.root.Raw}, ErrTooLarge},
		{"too large", [][]byte{make([]byte, MaxImportSize), {0}}, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMergeChain(tc.x5c)
			if !errors.Is(err, tc.is) {
				t.Errorf("ParseMergeChain = %v, want %v", err, tc.is)
			}
		})
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
