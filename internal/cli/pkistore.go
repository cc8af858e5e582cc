package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/tegata-project/tegata/internal/store"
)

// storeRecords is a pki.Storage over tegata's database: the PKI's records (keys
// already encrypted under the master key, certificates, state) are blobs under
// prefix. A record that an earlier tegata kept as a file in legacyDir is read from
// there once and copied into the database, so an existing data directory keeps its
// CAs.
type storeRecords struct {
	st        store.Store
	prefix    string
	legacyDir string
}

const storeTimeout = 30 * time.Second

func (s storeRecords) Read(name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	b, err := s.st.Blob(ctx, s.prefix+name)
	if !errors.Is(err, store.ErrNotFound) {
		return b, err
	}
	if s.legacyDir != "" {
		if data, ferr := os.ReadFile(filepath.Join(s.legacyDir, filepath.FromSlash(name))); ferr == nil {
			if err := s.st.PutBlob(ctx, s.prefix+name, data); err != nil {
				return nil, fmt.Errorf("copying %s into the store: %w", s.Describe(name), err)
			}
			return data, nil
		}
	}
	return nil, fmt.Errorf("%s: %w", s.Describe(name), fs.ErrNotExist)
}

func (s storeRecords) Write(name string, data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	return s.st.PutBlob(ctx, s.prefix+name, data)
}

func (s storeRecords) Describe(name string) string { return "store:" + s.prefix + name }
