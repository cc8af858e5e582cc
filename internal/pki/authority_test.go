package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/attest"
)

func rawOf(certs []*x509.Certificate) [][]byte {
	var out [][]byte
	for _, c := range certs {
		out = append(out, c.Raw)
	}
	return out
}

func TestReloadRegeneratesNothing(t *testing.T) {
	dir := t.TempDir()
	m := testMaster(t, 1)
	clk := &fakeClock{t: testStart.Add(time.Hour)}
	a := openTest(t, dir, m, testPlan(""), clk)
	k1, leaf1, chain1, err := a.Signer(clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	roots1, inter1 := a.Roots(), a.Intermediates()

	clk.Set(clk.Now().Add(time.Hour))
	b := openTest(t, dir, m, testPlan(""), clk)
	k2, leaf2, chain2, err := b.Signer(clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want [][]byte
	}{
		{"roots", rawOf(b.Roots()), rawOf(roots1)},
		{"intermediates", rawOf(b.Intermediates()), rawOf(inter1)},
		{"chain", rawOf(chain2), rawOf(chain1)},
		{"leaf", [][]byte{leaf2.Raw}, [][]byte{leaf1.Raw}},
	} {
		if len(tc.got) == 0 || len(tc.got) != len(tc.want) {
			t.Fatalf("%s: %d certificates after reload, %d before", tc.name, len(tc.got), len(tc.want))
		}
		for i := range tc.got {
			if !bytes.Equal(tc.got[i], tc.want[i]) {
				t.Errorf("%s[%d] changed across reload", tc.name, i)
			}
		}
	}
	type equaler interface {
		Equal(x crypto.PrivateKey) bool
	}
	if !k1.(equaler).Equal(k2) {
		t.Error("leaf key changed across reload")
	}
	// The Sub CA key must be the same too: a leaf issued after reload
	// still chains to the stored Sub CA.
	if err := leaf2.CheckSignatureFrom(chain1[0]); err != nil {
		t.Errorf("leaf after reload not signed by the stored Sub CA: %v", err)
	}

	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode = %v, want 0700 (err %v)", st.Mode().Perm(), err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
	for _, f := range files {
		if st, _ := os.Stat(f); st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", f, st.Mode().Perm())
		}
	}
}

func TestKeysEncryptedAtRest(t *testing.T) {
	dir := t.TempDir()
	m := testMaster(t, 1)
	clk := &fakeClock{t: testStart.Add(time.Hour)}
	a := openTest(t, dir, m, testPlan(""), clk)
	key, _, _, err := a.Signer(clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "keys", "*.key.json"))
	if len(files) < 3 {
		t.Fatalf("want at least root, Sub CA and leaf key files, got %v", files)
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, marker := range [][]byte{[]byte("PRIVATE KEY"), der, []byte(base64.StdEncoding.EncodeToString(der))} {
			if bytes.Contains(data, marker) {
				t.Errorf("%s contains plaintext key material", f)
			}
		}
		if !bytes.Contains(data, []byte(m.ID())) {
			t.Errorf("%s does not record key id %s", f, m.ID())
		}
	}

	wrong := testMaster(t, 2)
	cases := []struct {
		name string
		run  func() error
		want error
	}{
		{"open with another master key", func() error { _, err := Open(dir, wrong, testPlan(""), clk.Now); return err }, ErrWrongMasterKey},
		{"key file under another master key", func() error { _, err := keyStore{fs: dirStorage{dir}, master: wrong}.loadKey(leafName); return err }, ErrWrongMasterKey},
		{"key file copied over another", func() error {
			data, _ := os.ReadFile(filepath.Join(dir, "keys", "root-ca-01.key.json"))
			if err := os.WriteFile(filepath.Join(dir, "keys", "copy.key.json"), data, 0o600); err != nil {
				return err
			}
			_, err := keyStore{fs: dirStorage{dir}, master: m}.loadKey("copy")
			return err
		}, ErrWrongMasterKey},
		{"right key still opens", func() error { _, err := Open(dir, m, testPlan(""), clk.Now); return err }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not say where", err)
			}
		})
	}
}

// TestVerifyAcrossRotation signs and verifies before, during and after a
// planned switch and after an unplanned rotation, with only Roots() and
// Intermediates() as trust material and nothing embedded.
func TestVerifyAcrossRotation(t *testing.T) {
	day := 24 * time.Hour
	dir := t.TempDir()
	clk := &fakeClock{t: testStart}
	a := openTest(t, dir, testMaster(t, 1), testPlan(""), clk)
	var gen1 *x509.Certificate
	var oldDoc []byte // signed by the first Sub CA just before the switch
	steps := []struct {
		name    string
		at      time.Time
		rotate  bool
		wantCA  string
		wantInt int // Sub CAs published
	}{
		{"before", testStart.Add(time.Hour), false, "tegata Issuing CA 01", 1},
		{"announced (overlap)", testStart.Add(25 * day), false, "tegata Issuing CA 01", 2},
		{"last hours of the old Sub CA", testStart.Add(30*day - 2*time.Hour), false, "tegata Issuing CA 01", 2},
		{"after the switch", testStart.Add(30*day + time.Hour), false, "tegata Issuing CA 02", 2},
		{"after the old one expired", testStart.Add(61 * day), false, "tegata Issuing CA 03", 2},
		{"after an unplanned rotation", testStart.Add(62 * day), true, "tegata Issuing CA R01", 3},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			clk.Set(s.at)
			if s.rotate {
				if _, err := a.Rotate(s.at); err != nil {
					t.Fatal(err)
				}
			}
			key, leaf, chain, err := a.Signer(s.at)
			if err != nil {
				t.Fatal(err)
			}
			if got := chain[0].Subject.CommonName; got != s.wantCA || leaf.Issuer.CommonName != s.wantCA {
				t.Fatalf("signing Sub CA = %q (leaf issuer %q), want %q", got, leaf.Issuer.CommonName, s.wantCA)
			}
			if n := len(a.Intermediates()); n != s.wantInt {
				t.Errorf("Intermediates() has %d certificates, want %d", n, s.wantInt)
			}
			data := signDoc(t, key, leaf, nil, s.at)
			res, err := verifyAt(data, a.Roots(), s.at, attest.StaticIntermediates(a.Intermediates()...))
			if err != nil {
				t.Fatalf("verify with Roots and Intermediates: %v", err)
			}
			if res.Chain[len(res.Chain)-1].Subject.CommonName != "tegata Root CA 01" {
				t.Errorf("chain ends at %q", res.Chain[len(res.Chain)-1].Subject)
			}
			// The §6.5 embedding alone verifies with roots only.
			if _, err := verifyAt(signDoc(t, key, leaf, chain[:len(chain)-1], s.at), a.Roots(), s.at); err != nil {
				t.Errorf("verify with embedded chain: %v", err)
			}
			if gen1 == nil {
				gen1 = chain[0]
			}
			// A verifier that pinned only the first Sub CA.
			_, err = verifyAt(data, a.Roots(), s.at, attest.StaticIntermediates(gen1))
			if pinnedOK := s.wantCA == "tegata Issuing CA 01"; pinnedOK != (err == nil) {
				t.Errorf("pinned-old-Sub-CA verifier: err = %v, want success %v", err, pinnedOK)
			}
			if err != nil && !errors.Is(err, attest.ErrUntrustedChain) {
				t.Errorf("pinned-old-Sub-CA verifier: err = %v, want ErrUntrustedChain", err)
			}
			switch s.name {
			case "last hours of the old Sub CA":
				oldDoc = data
			case "after the switch":
				// Overlap: a document from the old Sub CA still verifies.
				if _, err := verifyAt(oldDoc, a.Roots(), s.at, attest.StaticIntermediates(a.Intermediates()...)); err != nil {
					t.Errorf("document signed before the switch no longer verifies: %v", err)
				}
			}
		})
	}

	// The rotation is recorded: a restart keeps signing from R01.
	b := openTest(t, dir, testMaster(t, 1), testPlan(""), clk)
	_, leaf, _, err := b.Signer(clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Issuer.CommonName != "tegata Issuing CA R01" {
		t.Errorf("after restart leaf issuer = %q, want tegata Issuing CA R01", leaf.Issuer.CommonName)
	}
}

func TestLeafRenewal(t *testing.T) {
	clk := &fakeClock{t: testStart.Add(time.Hour)}
	a := openTest(t, t.TempDir(), testMaster(t, 1), testPlan(""), clk)
	_, first, _, err := a.Signer(clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		at   time.Time
		same bool
	}{
		{"an hour later", clk.Now().Add(time.Hour), true},
		{"just before the renewal point", first.NotAfter.Add(-24*time.Hour - time.Second), true},
		{"at the renewal point", first.NotAfter.Add(-24 * time.Hour), false},
	} {
		_, leaf, _, err := a.Signer(tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if same := bytes.Equal(leaf.Raw, first.Raw); same != tc.same {
			t.Errorf("%s: same leaf = %v, want %v", tc.name, same, tc.same)
		}
	}
}

// TestCrossSignedRoot: a second root, cross-signed by the first, takes over
// the next Sub CA; verifiers anchored on either root succeed, and one
// anchored on the old root fails without the cross-certificate.
func TestCrossSignedRoot(t *testing.T) {
	day := 24 * time.Hour
	p := testPlan("")
	p.Roots = []RootPlan{{}, {Introduce: testStart.Add(15 * day), CrossSign: true}}
	now := testStart.Add(30*day + time.Hour)
	clk := &fakeClock{t: now}
	a := openTest(t, t.TempDir(), testMaster(t, 1), p, clk)
	key, leaf, chain, err := a.Signer(now)
	if err != nil {
		t.Fatal(err)
	}
	roots := a.Roots()
	if len(roots) != 2 || len(chain) != 3 {
		t.Fatalf("roots %d, chain %d; want 2 roots and Sub CA, cross-cert, root", len(roots), len(chain))
	}
	old, newer, xsign := roots[0], roots[1], chain[1]
	if xsign.Subject.CommonName != "tegata Root CA 02" || xsign.Issuer.CommonName != "tegata Root CA 01" {
		t.Fatalf("chain[1] = %q issued by %q, want the cross-certificate", xsign.Subject, xsign.Issuer)
	}
	if got := chain[0].IssuingCertificateURL; len(got) != 1 || !strings.HasSuffix(got[0], "/root-ca-02-xsign.crt") {
		t.Errorf("Sub CA AIA = %v, want the cross-certificate's URL", got)
	}
	data := signDoc(t, key, leaf, nil, now)
	withoutX := []*x509.Certificate{chain[0]}
	for _, tc := range []struct {
		name   string
		roots  []*x509.Certificate
		inter  []*x509.Certificate
		wantOK bool
	}{
		{"old root, bundle", []*x509.Certificate{old}, a.Intermediates(), true},
		{"new root, bundle", []*x509.Certificate{newer}, a.Intermediates(), true},
		{"new root, Sub CA only", []*x509.Certificate{newer}, withoutX, true},
		{"old root, cross-cert missing", []*x509.Certificate{old}, withoutX, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verifyAt(data, tc.roots, now, attest.StaticIntermediates(tc.inter...))
			if tc.wantOK != (err == nil) || (err != nil && !errors.Is(err, attest.ErrUntrustedChain)) {
				t.Fatalf("err = %v, want success %v", err, tc.wantOK)
			}
		})
	}
}
