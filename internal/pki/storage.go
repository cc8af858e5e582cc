package pki

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Storage keeps the PKI's records by name: "state.json", "keys/<name>.key.json"
// (private keys, already encrypted under the master key), "certs/<name>.pem".
// DirStorage keeps them as files; the CLI gives the Authority a Storage over
// tegata's database, so that CA keys live beside the vault's secrets.
type Storage interface {
	// Read returns the record, or an error wrapping fs.ErrNotExist.
	Read(name string) ([]byte, error)
	// Write replaces the record atomically: a crash leaves the old record or
	// the new one.
	Write(name string, data []byte) error
	// Describe says where name is kept, for error messages.
	Describe(name string) string
}

// DirStorage keeps records as files under dir (mode 0700, files 0600),
// creating dir if needed.
func DirStorage(dir string) (Storage, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: creating %s: %w; check --data-dir", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: securing %s: %w", dir, err)
	}
	return dirStorage{dir}, nil
}

type dirStorage struct{ dir string }

func (d dirStorage) path(name string) string {
	return filepath.Join(d.dir, filepath.FromSlash(name))
}

func (d dirStorage) Read(name string) ([]byte, error) {
	if err := checkRecordName(name); err != nil {
		return nil, err
	}
	return os.ReadFile(d.path(name))
}

func (d dirStorage) Write(name string, data []byte) error {
	if err := checkRecordName(name); err != nil {
		return err
	}
	return writeFileAtomic(d.path(name), data, 0o600)
}

func (d dirStorage) Describe(name string) string { return d.path(name) }

// checkRecordName refuses names that could leave the storage's root.
func checkRecordName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "..") || strings.Contains(name, "\\") {
		return fmt.Errorf("pki: record name %q is not a relative slash-separated path", name)
	}
	return nil
}
