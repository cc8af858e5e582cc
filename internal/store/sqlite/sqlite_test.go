package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tegata-project/tegata/internal/store"
	"github.com/tegata-project/tegata/internal/store/sqlite"
	"github.com/tegata-project/tegata/internal/store/storetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "tegata.db"))
	})
}

// TestTwoStoresOneFile opens the file twice, as two processes would, and
// writes through both: SQLite's file lock (BEGIN IMMEDIATE, busy_timeout)
// serialises the Updates of both.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tegata.db")
	storetest.ConcurrentUpdates(t, open(t, path), open(t, path))
}

// TestReopen checks that acknowledged writes are in the file: they survive
// Close and a new Open, and a second Open applies no migration twice.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tegata.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	k := store.ObjectKey{Vault: "v", Kind: store.KindSecret, Name: "Kept"}
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutObject(ctx, store.Object{ObjectKey: k, Meta: []byte("meta")}); err != nil {
			return err
		}
		_, err := tx.PutVersion(ctx, store.Version{ObjectKey: k, ID: strings.Repeat("a", 32), Sealed: []byte("sealed")})
		return err
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := s.PutBlob(ctx, "k", []byte("blob")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.View(ctx, func(store.Tx) error { return nil }); err == nil {
		t.Error("View after Close succeeded")
	}

	s = open(t, path)
	var v store.Version
	err = s.View(ctx, func(tx store.Tx) error {
		var err error
		v, err = tx.LatestVersion(ctx, k)
		return err
	})
	if err != nil {
		t.Fatalf("LatestVersion after reopen: %v", err)
	}
	if string(v.Sealed) != "sealed" || v.Name != "Kept" {
		t.Errorf("after reopen, version = %q %q; want Kept, sealed", v.Name, v.Sealed)
	}
	if b, err := s.Blob(ctx, "k"); err != nil || string(b) != "blob" {
		t.Errorf("after reopen, blob = %q, %v", b, err)
	}
}

// TestFileMode checks that a new database file and its new directory are
// private to the user.
func TestFileMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "tegata.db")
	s := open(t, path)
	if err := s.PutBlob(context.Background(), "k", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, path + "-wal": 0o600, dir: 0o700 | os.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if got := fi.Mode(); got != want {
			t.Errorf("%s has mode %v, want %v", filepath.Base(p), got, want)
		}
	}
}

// TestPathNeedsEscaping opens a file whose directory name holds characters
// that mean something in a URI.
func TestPathNeedsEscaping(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%20d e")
	path := filepath.Join(dir, "tegata.db")
	s := open(t, path)
	if err := s.PutBlob(context.Background(), "k", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not where asked: %v", err)
	}
}

// TestNewerSchema checks that a database from a newer tegata is refused.
func TestNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tegata.db")
	s := open(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := sqlOpen(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE schema_version SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if s, err := sqlite.Open(path); err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open error %q does not say the schema is newer", err)
	}
}

func BenchmarkLatestVersion(b *testing.B) {
	storetest.BenchLatestVersion(b, open(b, filepath.Join(b.TempDir(), "tegata.db")))
}

func BenchmarkVersion(b *testing.B) {
	storetest.BenchVersion(b, open(b, filepath.Join(b.TempDir(), "tegata.db")))
}

func BenchmarkObject(b *testing.B) {
	storetest.BenchObject(b, open(b, filepath.Join(b.TempDir(), "tegata.db")))
}

// sqlOpen opens the file directly, bypassing the store.
func sqlOpen(path string) (*sql.DB, error) { return sql.Open("sqlite", path) }
