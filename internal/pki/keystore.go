package pki

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// keyEnvelope is a private key at rest: the PKCS#8 DER encrypted under a
// fresh data key, and the data key wrapped under the master key, both with
// AES-256-GCM. The file name is bound in as additional data, so a key file
// copied over another one fails to decrypt instead of silently swapping
// keys.
type keyEnvelope struct {
	Version    int    `json:"version"`
	Algorithm  string `json:"alg"`
	KeyID      string `json:"kid"`
	WrapNonce  []byte `json:"wrap_nonce"`
	WrappedKey []byte `json:"wrapped_key"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

const envelopeAlg = "A256GCM-envelope"

// keyStore keeps encrypted keys and PEM certificates in a Storage.
type keyStore struct {
	fs     Storage
	master MasterKey
}

func keyRecord(name string) string  { return "keys/" + name + ".key.json" }
func certRecord(name string) string { return "certs/" + name + ".pem" }

func (k keyStore) keyPath(name string) string  { return k.fs.Describe(keyRecord(name)) }
func (k keyStore) certPath(name string) string { return k.fs.Describe(certRecord(name)) }

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func seal(key, plaintext, aad []byte) (nonce, ct []byte, err error) {
	g, err := gcm(key)
	if err != nil {
		return nil, nil, err
	}
	nonce = make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	return nonce, g.Seal(nil, nonce, plaintext, aad), nil
}

func open(key, nonce, ct, aad []byte) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	if len(nonce) != g.NonceSize() {
		return nil, errors.New("bad nonce length")
	}
	return g.Open(nil, nonce, ct, aad)
}

// saveKey encrypts key and writes it atomically with mode 0600.
func (k keyStore) saveKey(name string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("pki: encoding key %s: %w", name, err)
	}
	dek := make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		return fmt.Errorf("pki: data key for %s: %w", name, err)
	}
	aad := []byte("tegata-pki-key:" + name)
	env := keyEnvelope{Version: 1, Algorithm: envelopeAlg, KeyID: k.master.ID()}
	if env.WrapNonce, env.WrappedKey, err = seal(k.master.key[:], dek, aad); err != nil {
		return fmt.Errorf("pki: wrapping data key for %s: %w", name, err)
	}
	if env.Nonce, env.Ciphertext, err = seal(dek, der, aad); err != nil {
		return fmt.Errorf("pki: encrypting key %s: %w", name, err)
	}
	clear(dek)
	clear(der)
	data, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return err
	}
	return k.fs.Write(keyRecord(name), data)
}

// loadKey reads and decrypts a key; it fails with ErrWrongMasterKey when the
// key was written under another master key.
func (k keyStore) loadKey(name string) (crypto.Signer, error) {
	path := k.keyPath(name)
	data, err := k.fs.Read(keyRecord(name))
	if err != nil {
		return nil, fmt.Errorf("pki: reading key %s: %w", path, err)
	}
	var env keyEnvelope
	if err := json.Unmarshal(data, &env); err != nil || env.Version != 1 || env.Algorithm != envelopeAlg {
		return nil, fmt.Errorf("%w: %s is not a version 1 %s key envelope; restore it from backup", ErrCorruptStore, path, envelopeAlg)
	}
	if env.KeyID != k.master.ID() {
		return nil, fmt.Errorf("%w: %s was encrypted under master key %s but the loaded key is %s; supply the original key (file or $%s)",
			ErrWrongMasterKey, path, env.KeyID, k.master.ID(), MasterKeyEnv)
	}
	aad := []byte("tegata-pki-key:" + name)
	dek, err := open(k.master.key[:], env.WrapNonce, env.WrappedKey, aad)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: the data key does not decrypt under master key %s (tampered, renamed, or a different key with a colliding id); restore the file from backup",
			ErrWrongMasterKey, path, k.master.ID())
	}
	der, err := open(dek, env.Nonce, env.Ciphertext, aad)
	clear(dek)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: ciphertext fails authentication; restore it from backup", ErrCorruptStore, path)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: decrypted key does not parse: %v", ErrCorruptStore, path, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %s: key type %T cannot sign", ErrCorruptStore, path, key)
	}
	return s, nil
}

// saveCert writes a certificate as PEM. Certificates are public, but the
// directory is private, so 0600 costs nothing and keeps the tree uniform.
func (k keyStore) saveCert(name string, c *x509.Certificate) error {
	return k.fs.Write(certRecord(name), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

// loadCert returns nil, nil when the certificate does not exist.
func (k keyStore) loadCert(name string) (*x509.Certificate, error) {
	path := k.certPath(name)
	data, err := k.fs.Read(certRecord(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pki: reading %s: %w", path, err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: %s holds no PEM CERTIFICATE; restore it from backup", ErrCorruptStore, path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptStore, path, err)
	}
	return c, nil
}

// writeFileAtomic writes data to a temporary file in the same directory,
// syncs it and renames it over path, so a crash leaves the old file or the
// new one, never half of either.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: creating %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("pki: writing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable; not every file system supports it
		_ = d.Close()
	}
	return nil
}

// generateKey makes a key of one of the Key* algorithms.
func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyRSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case KeyRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case KeyECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	return nil, fmt.Errorf("%w: key algorithm %q is unknown", ErrInvalidPlan, alg)
}
