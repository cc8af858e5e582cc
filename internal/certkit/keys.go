package certkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
)

// GenerateKey returns a new private key for kp: *rsa.PrivateKey for kty RSA
// or RSA-HSM (key_size 2048, 3072 or 4096; 0 means 2048), *ecdsa.PrivateKey
// for EC or EC-HSM (crv P-256, P-384 or P-521; empty means P-256). An empty
// kty means RSA. tegata has no HSM: -HSM types get the same software key.
// Anything else, including P-256K, gives a *PolicyError.
func GenerateKey(kp KeyProps) (crypto.Signer, error) {
	kty := kp.KeyType
	if kty == "" {
		kty = KeyTypeRSA
	}
	switch {
	case isRSA(kty):
		size := kp.KeySize
		if size == 0 {
			size = 2048
		}
		if size != 2048 && size != 3072 && size != 4096 {
			return nil, policyErr("key_props.key_size", "%d is not supported for %s; use 2048, 3072 or 4096", size, kty)
		}
		return rsa.GenerateKey(rand.Reader, size)
	case isEC(kty):
		crv := kp.Curve
		if crv == "" {
			crv = CurveP256
		}
		c := curveFor(crv)
		if c == nil {
			return nil, &PolicyError{Field: "key_props.crv", Reason: fmt.Sprintf("%q is not supported; use P-256, P-384 or P-521", truncate(crv)), Err: ErrUnsupportedKey}
		}
		return ecdsa.GenerateKey(c, rand.Reader)
	}
	return nil, policyErr("key_props.kty", "%q is not supported; use RSA, RSA-HSM, EC or EC-HSM", truncate(kty))
}

// KeyPropsOf returns the key_props that describe pub: kty "RSA" with
// key_size the modulus size, or kty "EC" with crv the curve's name and
// key_size its size (as Azure reports them; a curve Key Vault does not name,
// such as P-224, keeps its Go name, which Validate refuses). pub may also be
// a private key or any value with a Public method. exportable and reuse_key
// are left absent. For other key types KeyType is empty.
func KeyPropsOf(pub crypto.PublicKey) KeyProps {
	if s, ok := pub.(interface{ Public() crypto.PublicKey }); ok {
		pub = s.Public()
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return KeyProps{KeyType: KeyTypeRSA, KeySize: k.N.BitLen()}
	case *ecdsa.PublicKey:
		name := k.Curve.Params().Name
		return KeyProps{KeyType: KeyTypeEC, Curve: name, KeySize: k.Curve.Params().BitSize}
	}
	return KeyProps{}
}

// curveFor returns the curve for a Key Vault crv name, or nil.
func curveFor(crv string) elliptic.Curve {
	switch crv {
	case CurveP256:
		return elliptic.P256()
	case CurveP384:
		return elliptic.P384()
	case CurveP521:
		return elliptic.P521()
	}
	return nil
}

// checkKey returns key as a crypto.Signer when it is an RSA key or an ECDSA
// key on P-256, P-384 or P-521, and an error wrapping ErrUnsupportedKey
// otherwise.
func checkKey(key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		if curveFor(k.Curve.Params().Name) != nil {
			return k, nil
		}
		return nil, fmt.Errorf("%w (the key is on %s)", ErrUnsupportedKey, k.Curve.Params().Name)
	}
	return nil, fmt.Errorf("%w (the key is %T)", ErrUnsupportedKey, key)
}
