package cli

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/pki"
)

// TestAttestDoctor is "the doctor warns before the switch": a PKI whose second Sub CA
// is announced (published) but not yet signing; an offline verifier whose bundle holds
// only the first is at risk; after `attest bundle refresh` it is not.
func TestAttestDoctor(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(2 * time.Hour)
	master, err := pki.NewMasterKey([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	plan := pki.Plan{
		Start:          t0,
		CAKeyAlgorithm: "ecdsa-p384",
		KeyAlgorithm:   "ecdsa-p256",
		Generations:    []pki.Generation{{Introduce: t0, Activate: t0}, {Introduce: t0.Add(time.Hour), Activate: t0.Add(10 * 24 * time.Hour)}},
	}
	auth, err := pki.Open(filepath.Join(dir, "pki"), master, plan, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	announced := filepath.Join(dir, "announced.pem")
	os.WriteFile(announced, auth.Bundle(), 0o600)
	roots := filepath.Join(dir, "roots.pem")
	var rootPEM []byte
	for _, c := range auth.Roots() {
		rootPEM = append(rootPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	os.WriteFile(roots, rootPEM, 0o600)
	// The verifier's bundle as it was before the announcement: the active Sub CA only.
	_, _, chain, err := auth.Signer(now)
	if err != nil {
		t.Fatal(err)
	}
	oldBundle := filepath.Join(dir, "old")
	os.MkdirAll(oldBundle, 0o700)
	os.WriteFile(filepath.Join(oldBundle, "sub.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0].Raw}), 0o600)
	at := now.Format(time.RFC3339)

	out, err := run(t, "attest", "doctor", "--announced", announced, "--roots", roots, "--bundle", oldBundle, "--offline", "--at", at)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(out, "Issuing CA 02 is not in the bundle") || !strings.Contains(out, "bundle refresh") {
		t.Fatalf("before the switch, with the old bundle: want exit 1 naming Issuing CA 02; got %v\n%s", err, out)
	}

	newBundle := filepath.Join(dir, "new")
	if out, err := run(t, "attest", "bundle", "refresh", "--out", newBundle, "--from", announced); err != nil {
		t.Fatalf("bundle refresh: %v\n%s", err, out)
	}
	entries, _ := os.ReadDir(newBundle)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(newBundle, e.Name()))
		block, _ := pem.Decode(data)
		if c, err := x509.ParseCertificate(block.Bytes); err != nil || isSelfIssued(c) {
			t.Fatalf("bundle file %s: %v (roots must not be bundled)", e.Name(), err)
		}
	}
	if out, err := run(t, "attest", "doctor", "--announced", announced, "--roots", roots, "--bundle", newBundle, "--offline", "--at", at); err != nil || !strings.Contains(out, "verdict: verification will keep working") {
		t.Fatalf("after bundle refresh: %v\n%s", err, out)
	}

	// Pins in configuration are found.
	conf := filepath.Join(dir, "server.conf")
	os.WriteFile(conf, []byte(`agent_path_template = "azure_imds" issuer = "Microsoft Azure RSA TLS Issuing CA 03"`), 0o600)
	if out, err := run(t, "attest", "doctor", "--announced", announced, "--roots", roots, "--bundle", newBundle, "--scan", conf, "--at", at); err == nil || !strings.Contains(out, "pins") {
		t.Fatalf("a pinned issuer name must be reported: %v\n%s", err, out)
	}
}
