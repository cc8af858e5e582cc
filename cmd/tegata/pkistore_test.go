package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tegata-project/tegata/attest"
	"github.com/tegata-project/tegata/internal/store/sqlite"
)

// TestPKIKeysInStore: the attestation PKI and the identity issuer keep their keys in
// tegata's database (encrypted), not as files, and a restart signs with the same leaf.
func TestPKIKeysInStore(t *testing.T) {
	dir := t.TempDir()
	signer := func(p *upProcess) string {
		doc := get(t, "http://"+p.meta+"/metadata/attested/document?api-version=2025-04-07&nonce=1234567890")
		env, err := attest.Parse([]byte(doc))
		if err != nil {
			t.Fatalf("attested document: %v: %s", err, doc)
		}
		return env.Signer.SerialNumber.String()
	}
	p := startUpIn(t, dir, nil)
	first := signer(p)
	imdsToken(t, p.meta) // the identity issuer's key is created too
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()

	if _, err := os.Stat(filepath.Join(dir, "pki")); err == nil {
		t.Error("the PKI wrote a <data-dir>/pki directory; its records belong in the store")
	}
	st, err := sqlite.Open(filepath.Join(dir, "tegata.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	names, err := st.Blobs(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys int
	for _, n := range names {
		if !strings.HasSuffix(n, ".key.json") {
			continue
		}
		keys++
		b, err := st.Blob(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "PRIVATE KEY") || !strings.Contains(string(b), `"alg": "A256GCM-envelope"`) {
			t.Errorf("%s is not an encrypted key envelope: %.80s", n, b)
		}
	}
	st.Close()
	if keys < 4 || !contains(names, "pki/state.json") || !hasPrefix(names, "identity/keys/") {
		t.Fatalf("store holds %d keys; records: %v", keys, names)
	}

	p2 := startUpIn(t, dir, nil)
	if again := signer(p2); again != first {
		t.Errorf("after a restart the document is signed by leaf %s, before by %s: keys were regenerated", again, first)
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func hasPrefix(s []string, p string) bool {
	for _, v := range s {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}
