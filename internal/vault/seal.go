package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/tegata-project/tegata/internal/pki"
)

// sealMagic starts every sealed value, so a format change can be recognised.
var sealMagic = [4]byte{'t', 'g', 's', '1'}

// ErrUnknownMasterKey is returned when a sealed value names a master key id that
// is not configured: the data was written under a key this server was not given.
var ErrUnknownMasterKey = errors.New("vault: sealed with a master key that is not configured")

// A Sealer encrypts secret values and private keys at rest with envelope
// encryption: each value gets a fresh 256-bit data key (AES-256-GCM), and the
// data key is wrapped by the current master key, whose id is recorded beside
// it. Older master keys decrypt what they wrapped until Rewrap moves it to the
// current key. The caller's context string (vault, kind, name, version) is
// authenticated, so a sealed value copied onto another row does not open.
type Sealer struct {
	current string
	keys    map[string]cipher.AEAD
	// listKey signs paging tokens, derived from the current master key.
	listKey []byte
}

// NewSealer returns a Sealer that seals under current and also opens values
// wrapped by any of older.
func NewSealer(current pki.MasterKey, older ...pki.MasterKey) (*Sealer, error) {
	s := &Sealer{current: current.ID(), keys: map[string]cipher.AEAD{}}
	for _, m := range append([]pki.MasterKey{current}, older...) {
		a, err := m.AEAD()
		if err != nil {
			return nil, fmt.Errorf("vault: master key: %w", err)
		}
		s.keys[m.ID()] = a
	}
	a := s.keys[s.current]
	// The list key is the master key's encryption of a constant label: stable
	// across restarts and replicas, never stored, and not the master key itself.
	s.listKey = a.Seal(nil, make([]byte, a.NonceSize()), []byte("tegata vault paging token key v1"), nil)[:32]
	return s, nil
}

// KeyID is the id of the master key new values are sealed under.
func (s *Sealer) KeyID() string { return s.current }

// Seal encrypts plaintext bound to context.
func (s *Sealer) Seal(plaintext []byte, context string) ([]byte, error) {
	var dek [32]byte
	if _, err := rand.Read(dek[:]); err != nil {
		return nil, err
	}
	valueAEAD, err := newGCM(dek[:])
	if err != nil {
		return nil, err
	}
	out := append([]byte{}, sealMagic[:]...)
	out = append(out, byte(len(s.current)))
	out = append(out, s.current...)
	out, err = s.wrap(out, s.keys[s.current], dek[:], context)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, valueAEAD.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return valueAEAD.Seal(out, nonce, plaintext, []byte(context)), nil
}

// wrappedLen is the wrapped data key's length: nonce, 32-byte key, tag.
const wrappedLen = 12 + 32 + 16

func (s *Sealer) wrap(out []byte, master cipher.AEAD, dek []byte, context string) ([]byte, error) {
	nonce := make([]byte, master.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return master.Seal(out, nonce, dek, []byte("dek:"+context)), nil
}

type sealedParts struct {
	keyID   string
	wrapped []byte // nonce + wrapped data key
	body    []byte // nonce + value ciphertext
}

func parseSealed(b []byte) (sealedParts, error) {
	var p sealedParts
	if len(b) < 5 || [4]byte(b[:4]) != sealMagic {
		return p, errors.New("vault: sealed value has an unknown format")
	}
	n := int(b[4])
	rest := b[5:]
	if len(rest) < n+wrappedLen+12+16 {
		return p, errors.New("vault: sealed value is truncated")
	}
	p.keyID = string(rest[:n])
	p.wrapped = rest[n : n+wrappedLen]
	p.body = rest[n+wrappedLen:]
	return p, nil
}

func (s *Sealer) unwrap(p sealedParts, context string) ([]byte, error) {
	master, ok := s.keys[p.keyID]
	if !ok {
		return nil, fmt.Errorf("%w (key id %s); give the old key with vault.previous_master_key_files", ErrUnknownMasterKey, p.keyID)
	}
	dek, err := master.Open(nil, p.wrapped[:12], p.wrapped[12:], []byte("dek:"+context))
	if err != nil {
		return nil, errors.New("vault: sealed data key does not open under its master key: the row was altered or moved")
	}
	return dek, nil
}

// Open decrypts a value sealed with the same context.
func (s *Sealer) Open(sealed []byte, context string) ([]byte, error) {
	p, err := parseSealed(sealed)
	if err != nil {
		return nil, err
	}
	dek, err := s.unwrap(p, context)
	if err != nil {
		return nil, err
	}
	a, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	plain, err := a.Open(nil, p.body[:12], p.body[12:], []byte(context))
	if err != nil {
		return nil, errors.New("vault: sealed value does not open: the row was altered or moved")
	}
	return plain, nil
}

// Rewrap re-wraps a sealed value's data key under the current master key,
// leaving the value's ciphertext as it is. It reports whether anything changed.
func (s *Sealer) Rewrap(sealed []byte, context string) ([]byte, bool, error) {
	p, err := parseSealed(sealed)
	if err != nil {
		return nil, false, err
	}
	if p.keyID == s.current {
		return sealed, false, nil
	}
	dek, err := s.unwrap(p, context)
	if err != nil {
		return nil, false, err
	}
	out := append([]byte{}, sealMagic[:]...)
	out = append(out, byte(len(s.current)))
	out = append(out, s.current...)
	if out, err = s.wrap(out, s.keys[s.current], dek, context); err != nil {
		return nil, false, err
	}
	return append(out, p.body...), true, nil
}

// mac signs paging tokens.
func (s *Sealer) mac(data []byte) []byte {
	h := hmac.New(sha256.New, s.listKey)
	h.Write(data)
	return h.Sum(nil)[:16]
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
