package certkit

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// This file reads the outer layers of a PKCS#12 file (RFC 7292) without
// decrypting anything, for two jobs go-pkcs12 does not do: refusing
// iteration counts that would pin a CPU before go-pkcs12 runs them, and
// reading a PFX that holds certificates only (go-pkcs12 reads those only as
// Java trust stores).

var (
	oidData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidShroudedKey   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidPBES2         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidPBMAC1        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
	oidPKCS12PBE     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1} // prefix of the PKCS#12 PBE schemes
	oidSHA1          = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA512        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

type pfxPDU struct {
	Version  int
	AuthSafe contentInfo
	MacData  macData `asn1:"optional"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type encryptedData struct {
	Version              int
	EncryptedContentInfo struct {
		ContentType                asn1.ObjectIdentifier
		ContentEncryptionAlgorithm pkix.AlgorithmIdentifier
		EncryptedContent           asn1.RawValue `asn1:"optional"`
	}
}

type macData struct {
	Mac struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

type safeBag struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue `asn1:"tag:0,explicit"`
	Rest  asn1.RawValue `asn1:"optional"`
}

type pbeParams struct {
	Salt       []byte
	Iterations int
}

type pbes2Params struct {
	KDF        pkix.AlgorithmIdentifier
	Encryption pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       asn1.RawValue
	Iterations int
	Rest       asn1.RawValue `asn1:"optional"`
}

// unmarshalAll decodes exactly one DER value from b into v.
func unmarshalAll(b []byte, v any) error {
	rest, err := asn1.Unmarshal(b, v)
	if err == nil && len(rest) != 0 {
		err = errors.New("trailing data")
	}
	return err
}

// octets returns the contents of the [0] EXPLICIT OCTET STRING of a Data
// ContentInfo.
func (ci contentInfo) octets() ([]byte, error) {
	var b []byte
	if err := unmarshalAll(ci.Content.Bytes, &b); err != nil {
		return nil, fmt.Errorf("malformed data content: %v", err)
	}
	return b, nil
}

// checkPFX parses der down to its safes and refuses iteration counts over
// maxIterations in the MAC, in each encrypted safe and in each shrouded key
// bag of a plain safe. Bags inside encrypted safes cannot be seen without
// decrypting and are left to go-pkcs12.
func checkPFX(der []byte) (pfxPDU, []contentInfo, error) {
	var pfx pfxPDU
	if err := unmarshalAll(der, &pfx); err != nil {
		return pfx, nil, fmt.Errorf("%w: not a DER PKCS#12 file (%v)", ErrBadPFX, err)
	}
	if pfx.Version != 3 || !pfx.AuthSafe.ContentType.Equal(oidData) {
		return pfx, nil, fmt.Errorf("%w: only version 3, password-integrity PKCS#12 files are supported", ErrBadPFX)
	}
	if alg := pfx.MacData.Mac.Algorithm; len(alg.Algorithm) > 0 {
		it := pfx.MacData.Iterations
		if alg.Algorithm.Equal(oidPBMAC1) {
			var p pbes2Params // PBMAC1-params has the same shape: KDF, then MAC algorithm
			if err := unmarshalAll(alg.Parameters.FullBytes, &p); err != nil {
				return pfx, nil, fmt.Errorf("%w: malformed PBMAC1 parameters", ErrBadPFX)
			}
			it = kdfIterations(p.KDF)
		}
		if err := checkIterations(it); err != nil {
			return pfx, nil, err
		}
	}
	authSafe, err := pfx.AuthSafe.octets()
	if err != nil {
		return pfx, nil, fmt.Errorf("%w: %v", ErrBadPFX, err)
	}
	var safes []contentInfo
	if err := unmarshalAll(authSafe, &safes); err != nil {
		return pfx, nil, fmt.Errorf("%w: malformed authenticated safe (%v)", ErrBadPFX, err)
	}
	for _, ci := range safes {
		switch {
		case ci.ContentType.Equal(oidEncryptedData):
			var ed encryptedData
			if err := unmarshalAll(ci.Content.Bytes, &ed); err != nil {
				return pfx, nil, fmt.Errorf("%w: malformed encrypted safe (%v)", ErrBadPFX, err)
			}
			if err := checkIterations(pbeIterations(ed.EncryptedContentInfo.ContentEncryptionAlgorithm)); err != nil {
				return pfx, nil, err
			}
		case ci.ContentType.Equal(oidData):
			b, err := ci.octets()
			if err != nil {
				return pfx, nil, fmt.Errorf("%w: %v", ErrBadPFX, err)
			}
			var bags []safeBag
			if err := unmarshalAll(b, &bags); err != nil {
				return pfx, nil, fmt.Errorf("%w: malformed safe contents (%v)", ErrBadPFX, err)
			}
			for _, bag := range bags {
				if !bag.ID.Equal(oidShroudedKey) {
					continue
				}
				var epki struct {
					Algorithm pkix.AlgorithmIdentifier
					Data      []byte
				}
				if err := unmarshalAll(bag.Value.Bytes, &epki); err != nil {
					return pfx, nil, fmt.Errorf("%w: malformed shrouded key bag (%v)", ErrBadPFX, err)
				}
				if err := checkIterations(pbeIterations(epki.Algorithm)); err != nil {
					return pfx, nil, err
				}
			}
		}
	}
	return pfx, safes, nil
}

func checkIterations(n int) error {
	if n > maxIterations || n < 0 {
		return fmt.Errorf("%w: %d key-derivation iterations; at most %d are accepted", ErrBadPFX, n, maxIterations)
	}
	return nil
}

// pbeIterations returns the iteration count of a PKCS#12 PBE or PBES2
// algorithm, or 0 for other algorithms (go-pkcs12 refuses those).
func pbeIterations(alg pkix.AlgorithmIdentifier) int {
	switch {
	case alg.Algorithm.Equal(oidPBES2):
		var p pbes2Params
		if unmarshalAll(alg.Parameters.FullBytes, &p) != nil {
			return 0
		}
		return kdfIterations(p.KDF)
	case len(alg.Algorithm) == len(oidPKCS12PBE)+1 && alg.Algorithm[:len(oidPKCS12PBE)].Equal(oidPKCS12PBE):
		var p pbeParams
		if unmarshalAll(alg.Parameters.FullBytes, &p) != nil {
			return 0
		}
		return p.Iterations
	}
	return 0
}

// kdfIterations returns the iteration count of a PBKDF2 AlgorithmIdentifier.
func kdfIterations(kdf pkix.AlgorithmIdentifier) int {
	var p pbkdf2Params
	if !kdf.Algorithm.Equal(oidPBKDF2) || unmarshalAll(kdf.Parameters.FullBytes, &p) != nil {
		return 0
	}
	return p.Iterations
}

// pfxCertificates returns the certificates of a PFX that has no private
// key and an empty password, in the order of their bags. A PFX with a key
// gives ErrUnexpectedKey.
func pfxCertificates(der []byte) ([]*x509.Certificate, error) {
	pfx, safes, err := checkPFX(der)
	if err != nil {
		return nil, err
	}
	if len(safes) == 1 {
		if certs, err := pkcs12.DecodeTrustStore(der, ""); err == nil {
			return certs, nil
		}
	}
	// pkcs12.ToPEM reads any bags, but only from exactly two safes: pad a
	// single safe with an empty one and re-seal the MAC with whichever empty
	// password (with or without the BMPString terminator) the sender used.
	if len(safes) == 1 {
		if der, err = padPFX(pfx, safes); err != nil {
			return nil, err
		}
	}
	blocks, err := pkcs12.ToPEM(der, "")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPFX, err)
	}
	var certs []*x509.Certificate
	for _, b := range blocks {
		if strings.Contains(b.Type, "PRIVATE KEY") {
			return nil, ErrUnexpectedKey
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %w", ErrBadPFX, len(certs)+1, err)
		}
		if len(certs) == MaxCertificates {
			return nil, tooLarge("the chain", MaxCertificates, "certificates")
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// emptyPasswords are the two encodings of the empty password PKCS#12
// writers use: the BMPString terminator alone, and no bytes at all.
var emptyPasswords = [][]byte{{0, 0}, nil}

// padPFX re-encodes a one-safe PFX with a second, empty Data safe.
func padPFX(pfx pfxPDU, safes []contentInfo) ([]byte, error) {
	empty, err := dataContentInfo([]byte{0x30, 0})
	if err != nil {
		return nil, err
	}
	authSafe, err := asn1.Marshal(append(safes, empty))
	if err != nil {
		return nil, err
	}
	if len(pfx.MacData.Mac.Algorithm.Algorithm) > 0 {
		oldAuthSafe, err := pfx.AuthSafe.octets()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadPFX, err)
		}
		var password []byte
		found := false
		for _, pw := range emptyPasswords {
			mac, err := pfxMAC(&pfx.MacData, oldAuthSafe, pw)
			if err != nil {
				return nil, err
			}
			if hmac.Equal(mac, pfx.MacData.Mac.Digest) {
				password, found = pw, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: the MAC does not verify with an empty password; a merge chain must use an empty password", ErrBadPFX)
		}
		if pfx.MacData.Mac.Digest, err = pfxMAC(&pfx.MacData, authSafe, password); err != nil {
			return nil, err
		}
	}
	if pfx.AuthSafe, err = dataContentInfo(authSafe); err != nil {
		return nil, err
	}
	return asn1.Marshal(pfx)
}

// dataContentInfo wraps b as a Data ContentInfo.
func dataContentInfo(b []byte) (contentInfo, error) {
	inner, err := asn1.Marshal(b)
	if err != nil {
		return contentInfo{}, err
	}
	return contentInfo{
		ContentType: oidData,
		Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner},
	}, nil
}

// pfxMAC computes the PKCS#12 HMAC of message (RFC 7292 appendix B).
func pfxMAC(md *macData, message, password []byte) ([]byte, error) {
	var h func() hash.Hash
	var u, v int
	switch alg := md.Mac.Algorithm.Algorithm; {
	case alg.Equal(oidSHA1):
		h, u, v = sha1.New, 20, 64
	case alg.Equal(oidSHA256):
		h, u, v = sha256.New, 32, 64
	case alg.Equal(oidSHA512):
		h, u, v = sha512.New, 64, 128
	default:
		return nil, fmt.Errorf("%w: MAC algorithm %s is not supported for a PFX without key; use HMAC-SHA-1 or HMAC-SHA-256", ErrBadPFX, alg)
	}
	key := pkcs12KDF(h, u, v, md.MacSalt, password, md.Iterations, 3, u)
	mac := hmac.New(h, key)
	mac.Write(message)
	return mac.Sum(nil), nil
}

// pkcs12KDF is the key derivation of RFC 7292 appendix B.2, for a hash with
// output size u and block size v, purpose id (3 for MAC keys) and r
// iterations.
func pkcs12KDF(h func() hash.Hash, u, v int, salt, password []byte, r int, id byte, size int) []byte {
	fill := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		out := make([]byte, v*((len(b)+v-1)/v))
		for i := range out {
			out[i] = b[i%len(b)]
		}
		return out
	}
	D := make([]byte, v)
	for i := range D {
		D[i] = id
	}
	I := append(fill(salt), fill(password)...)
	var out []byte
	for len(out) < size {
		hh := h()
		hh.Write(D)
		hh.Write(I)
		A := hh.Sum(nil)
		for j := 1; j < r; j++ {
			hh.Reset()
			hh.Write(A)
			A = hh.Sum(A[:0])
		}
		out = append(out, A...)
		B := fill(A)
		for j := 0; j < len(I); j += v { // I_j = (I_j + B + 1) mod 2^(8v)
			carry := 1
			for k := v - 1; k >= 0; k-- {
				s := int(I[j+k]) + int(B[k]) + carry
				I[j+k], carry = byte(s), s>>8
			}
		}
	}
	return out[:size]
}
