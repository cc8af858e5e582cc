package pki

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// MasterKeyEnv is the environment variable holding a base64 master key.
const MasterKeyEnv = "TEGATA_MASTER_KEY"

// MasterKeyFile is the dev-mode master key's file name inside the data
// directory.
const MasterKeyFile = "master.key"

// A MasterKey is the 256-bit key that wraps every private key at rest. Its
// String and GoString print only the key id, so it is safe in logs.
type MasterKey struct {
	key [32]byte
	id  string
}

// NewMasterKey returns a master key from 32 bytes, given raw or as standard
// or URL-safe base64 (surrounding white space is ignored).
func NewMasterKey(material []byte) (MasterKey, error) {
	var m MasterKey
	raw := material
	if len(raw) != 32 {
		t := bytes.TrimSpace(material)
		var dec []byte
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if dec, err = enc.DecodeString(string(t)); err == nil {
				break
			}
		}
		if err != nil || len(dec) != 32 {
			return m, fmt.Errorf("%w: need 32 bytes, raw or base64 (%d bytes given); create one with: head -c 32 /dev/urandom | base64", ErrBadMasterKey, len(material))
		}
		raw = dec
	}
	copy(m.key[:], raw)
	sum := sha256.Sum256(m.key[:])
	m.id = hex.EncodeToString(sum[:8])
	return m, nil
}

// ID is the key id recorded next to everything encrypted under the key: the
// hex of the first 8 bytes of SHA-256(key).
func (m MasterKey) ID() string { return m.id }

// String prints the key id only.
func (m MasterKey) String() string { return "MasterKey(" + m.id + ")" }

// GoString prints the key id only, so %#v never reveals the key.
func (m MasterKey) GoString() string { return m.String() }

func (m MasterKey) valid() bool { return m.id != "" }

// LoadMasterKeyFile reads a master key from path. The file must not be
// accessible to group or others (mode 0600 or stricter) and must hold 32
// bytes, raw or base64.
func LoadMasterKeyFile(path string) (MasterKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return MasterKey{}, fmt.Errorf("pki: master key file %s: %w; point to an existing file or unset it to use %s", path, err, MasterKeyEnv)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return MasterKey{}, fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrInsecureKeyFile, path, st.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return MasterKey{}, fmt.Errorf("pki: master key file %s: %w", path, err)
	}
	m, err := NewMasterKey(data)
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key file %s: %w", path, err)
	}
	return m, nil
}

// LoadMasterKey finds the master key: the file at path when path is set,
// else $TEGATA_MASTER_KEY (base64), else, for dev mode, <dataDir>/master.key,
// generated (mode 0600) when it does not exist. getenv is os.Getenv in
// production; created reports whether a new key was generated.
func LoadMasterKey(path, dataDir string, getenv func(string) string) (m MasterKey, created bool, err error) {
	if path != "" {
		m, err = LoadMasterKeyFile(path)
		return m, false, err
	}
	if v := getenv(MasterKeyEnv); v != "" {
		m, err = NewMasterKey([]byte(v))
		if err != nil {
			return m, false, fmt.Errorf("$%s: %w", MasterKeyEnv, err)
		}
		return m, false, nil
	}
	if dataDir == "" {
		return m, false, fmt.Errorf("%w: no master key file, no $%s and no data directory to create one in", ErrBadMasterKey, MasterKeyEnv)
	}
	p := filepath.Join(dataDir, MasterKeyFile)
	m, err = LoadMasterKeyFile(p)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return m, false, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return m, false, fmt.Errorf("pki: generating a master key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return m, false, fmt.Errorf("pki: creating %s for the master key: %w", dataDir, err)
	}
	enc := []byte(base64.StdEncoding.EncodeToString(raw[:]) + "\n")
	// O_EXCL: two processes starting together must not each write a key.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			m, err = LoadMasterKeyFile(p)
			return m, false, err
		}
		return m, false, fmt.Errorf("pki: creating %s: %w", p, err)
	}
	if _, err = f.Write(enc); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(p)
		return m, false, fmt.Errorf("pki: writing %s: %w", p, err)
	}
	m, err = NewMasterKey(raw[:])
	return m, err == nil, err
}

// AEAD returns AES-256-GCM under the master key, for callers that wrap their own
// data keys with it (the vault's envelope encryption).
func (m MasterKey) AEAD() (cipher.AEAD, error) {
	if !m.valid() {
		return nil, ErrBadMasterKey
	}
	return gcm(m.key[:])
}
