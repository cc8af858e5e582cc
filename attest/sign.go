package attest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// SignOptions controls Sign.
type SignOptions struct {
	// AzureDigestOIDQuirk writes sha256WithRSAEncryption (1.2.840.113549.1.1.11)
	// where the digest OID belongs, byte-for-byte like Azure. The signature is
	// unaffected because, without signed attributes, those fields are not
	// signed. Verifiers of the Mozilla pkcs7 lineage reject it, so it is off
	// unless a consumer needs Azure parity; AzureSignOptions turns it on.
	// It applies to RSA keys only.
	AzureDigestOIDQuirk bool
	// Intermediates are embedded after the leaf (Sub CA, then any
	// cross-certificate) so verifiers can build the path offline. Azure
	// embeds none. Never put a root here.
	Intermediates []*x509.Certificate
	// Rand is the randomness for signers that need it; nil means crypto/rand.
	Rand io.Reader
}

// AzureSignOptions returns options that reproduce Azure's envelope exactly:
// only the leaf embedded and the digest-OID quirk.
func AzureSignOptions() SignOptions { return SignOptions{AzureDigestOIDQuirk: true} }

// ASN.1 shapes for writing; encoding/asn1 keeps field order and the
// explicit NULL parameters Azure writes.
type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type issuerAndSerialNumber struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type signerInfoOut struct {
	Version                   int
	IssuerAndSerialNumber     issuerAndSerialNumber
	DigestAlgorithm           algorithmIdentifier
	DigestEncryptionAlgorithm algorithmIdentifier
	EncryptedDigest           []byte
}

type encapContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     []byte `asn1:"explicit,tag:0"`
}

type signedDataOut struct {
	Version          int
	DigestAlgorithms []algorithmIdentifier `asn1:"set"`
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue
	SignerInfos      []signerInfoOut `asn1:"set"`
}

type contentInfoOut struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // [0] EXPLICIT, built by hand: asn1 ignores tags on a RawValue
}

// Sign returns the DER PKCS#7 SignedData of doc (usually
// Document.MarshalAzure output) in Azure's layout: version 1, content
// attached as id-data, the leaf (then opts.Intermediates) in the certificate
// bag, one SignerInfo identified by issuerAndSerialNumber, no signed or
// unsigned attributes, and a signature over SHA-256(doc) directly. RSA keys
// sign with PKCS#1 v1.5 and digestEncryptionAlgorithm rsaEncryption, as
// Azure does; ECDSA keys (P-256, P-384) sign with ecdsa-with-SHA256. The
// digest OID is id-sha256 unless opts.AzureDigestOIDQuirk is set. Wrap the
// result with MarshalResponse for the IMDS response body.
func Sign(doc []byte, signer crypto.Signer, leaf *x509.Certificate, opts SignOptions) ([]byte, error) {
	if len(doc) == 0 {
		return nil, errors.New("attest: sign: document is empty")
	}
	if signer == nil || leaf == nil {
		return nil, errors.New("attest: sign: signer and leaf certificate are required")
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pk, ok := signer.Public().(equaler); !ok || !pk.Equal(leaf.PublicKey) {
		return nil, fmt.Errorf("attest: sign: the signer's public key does not match leaf %s; pass the key of the current signing certificate", describe(leaf))
	}
	null := asn1.NullRawValue
	digestAlg := algorithmIdentifier{Algorithm: OIDSHA256, Parameters: null}
	var sigAlg algorithmIdentifier
	switch leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		sigAlg = algorithmIdentifier{Algorithm: OIDRSAEncryption, Parameters: null}
		if opts.AzureDigestOIDQuirk {
			digestAlg.Algorithm = OIDSHA256WithRSA
		}
	case *ecdsa.PublicKey:
		// RFC 5754: ecdsa-with-SHA256 takes no parameters.
		sigAlg = algorithmIdentifier{Algorithm: oidECDSAWithSHA256}
	default:
		return nil, fmt.Errorf("attest: sign: key type %T is not supported; use RSA or ECDSA", leaf.PublicKey)
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	sum := sha256.Sum256(doc)
	sig, err := signer.Sign(rnd, sum[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("attest: sign: signing with the key of %s: %w", describe(leaf), err)
	}
	var bag bytes.Buffer
	bag.Write(leaf.Raw)
	for _, c := range opts.Intermediates {
		bag.Write(c.Raw)
	}
	sd := signedDataOut{
		Version:          1,
		DigestAlgorithms: []algorithmIdentifier{digestAlg},
		EncapContentInfo: encapContentInfo{ContentType: oidData, Content: doc},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: bag.Bytes()},
		SignerInfos: []signerInfoOut{{
			Version:                   1,
			IssuerAndSerialNumber:     issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: leaf.RawIssuer}, Serial: leaf.SerialNumber},
			DigestAlgorithm:           digestAlg,
			DigestEncryptionAlgorithm: sigAlg,
			EncryptedDigest:           sig,
		}},
	}
	inner, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("attest: sign: encoding SignedData: %w", err)
	}
	out, err := asn1.Marshal(contentInfoOut{ContentType: oidSignedData, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
	if err != nil {
		return nil, fmt.Errorf("attest: sign: encoding ContentInfo: %w", err)
	}
	return out, nil
}

// MarshalResponse wraps a DER PKCS#7 as the IMDS response body
// {"encoding":"pkcs7","signature":"<standard base64>"}.
func MarshalResponse(der []byte) []byte {
	return []byte(`{"encoding":"pkcs7","signature":"` + base64.StdEncoding.EncodeToString(der) + `"}`)
}
