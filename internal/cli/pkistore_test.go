package cli

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/tegata-project/tegata/internal/store/sqlite"
)

// TestStoreRecordsTakesOverFiles: a record an earlier version kept as a file is
// read once from the file and copied into the store; records that exist nowhere
// report fs.ErrNotExist, which the PKI takes as "create it".
func TestStoreRecordsTakesOverFiles(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "tegata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	legacy := filepath.Join(dir, "pki")
	os.MkdirAll(filepath.Join(legacy, "keys"), 0o700)
	os.WriteFile(filepath.Join(legacy, "keys", "root-1.key.json"), []byte("envelope"), 0o600)
	r := storeRecords{st: st, prefix: "pki/", legacyDir: legacy}
	b, err := r.Read("keys/root-1.key.json")
	if err != nil || string(b) != "envelope" {
		t.Fatalf("legacy record: %q, %v", b, err)
	}
	os.RemoveAll(legacy)
	if b, err := r.Read("keys/root-1.key.json"); err != nil || string(b) != "envelope" {
		t.Fatalf("the record was not copied into the store: %q, %v", b, err)
	}
	if _, err := r.Read("state.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing record: %v, want fs.ErrNotExist", err)
	}
	if err := r.Write("state.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if b, _ := r.Read("state.json"); string(b) != "{}" {
		t.Errorf("written record reads back %q", b)
	}
}
