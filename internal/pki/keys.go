package pki

import (
	"crypto"
	"errors"
	"io/fs"
)

// Keys keeps other parts' private keys (the identity issuer's signing keys) the way the
// PKI keeps its own: AES-256-GCM envelopes under the master key, files 0600 in
// <dir>/keys, written atomically.
type Keys struct{ ks keyStore }

// NewKeys returns the key store in dir, encrypted under master.
func NewKeys(dir string, master MasterKey) *Keys {
	return &Keys{keyStore{fs: dirStorage{dir}, master: master}}
}

// NewKeysIn returns the key store kept in s, encrypted under master.
func NewKeysIn(s Storage, master MasterKey) *Keys { return &Keys{keyStore{fs: s, master: master}} }

// Load returns the key called name; ok is false when there is none.
func (k *Keys) Load(name string) (key crypto.Signer, ok bool, err error) {
	key, err = k.ks.loadKey(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	return key, err == nil, err
}

// Save stores key as name, replacing any key of that name.
func (k *Keys) Save(name string, key crypto.Signer) error { return k.ks.saveKey(name, key) }

// Generate makes a key of the given algorithm (rsa-2048, rsa-3072, rsa-4096,
// ecdsa-p256, ecdsa-p384).
func Generate(alg string) (crypto.Signer, error) { return generateKey(alg) }
