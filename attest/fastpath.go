package attest

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
)

// The fast path reads the one PKCS#7 shape that Azure and tegata write (DER SignedData
// v1, attached data, certificates, exactly one SignerInfo v1 with issuerAndSerialNumber,
// no signed or unsigned attributes, no CRLs, RSA with SHA-256) straight into the
// envelope, and checks its signature without smallstep/pkcs7's BER-to-DER
// re-encoding, which costs more than the RSA verification itself. Anything else, or
// anything unexpected in that shape, returns ok=false and takes the general parser, so
// the fast path can only narrow what is accepted, never widen it; FuzzFastPath holds it
// to the general parser's answers.

type fastSignedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	ContentInfo      fastContentInfo
	Certificates     asn1.RawValue    `asn1:"tag:0"`
	SignerInfos      []fastSignerInfo `asn1:"set"`
}

type fastContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     []byte `asn1:"explicit,tag:0"`
}

type fastSignerInfo struct {
	Version            int
	IssuerAndSerial    fastIssuerAndSerial
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
}

type fastIssuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

// fastSignature is what the fast path keeps to verify the signature later.
type fastSignature struct {
	signature []byte
}

// fastParse parses content, the [0] EXPLICIT content of a signedData ContentInfo.
func fastParse(content []byte, der []byte) (*Envelope, bool) {
	var sd fastSignedData
	rest, err := asn1.Unmarshal(content, &sd)
	if err != nil || len(rest) != 0 || sd.Version != 1 || len(sd.SignerInfos) != 1 ||
		!sd.ContentInfo.ContentType.Equal(oidData) || len(sd.ContentInfo.Content) == 0 ||
		sd.Certificates.Class != asn1.ClassContextSpecific || sd.Certificates.Tag != 0 || !sd.Certificates.IsCompound {
		return nil, false
	}
	si := sd.SignerInfos[0]
	if si.Version != 1 || !isSHA256Digest(si.DigestAlgorithm.Algorithm) ||
		!(si.SignatureAlgorithm.Algorithm.Equal(OIDRSAEncryption) || si.SignatureAlgorithm.Algorithm.Equal(OIDSHA256WithRSA)) {
		return nil, false
	}
	certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
	if err != nil || len(certs) == 0 || len(certs) > MaxCertificates {
		return nil, false
	}
	var signer *x509.Certificate
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, si.IssuerAndSerial.Issuer.FullBytes) && c.SerialNumber.Cmp(si.IssuerAndSerial.Serial) == 0 {
			signer = c
			break
		}
	}
	if signer == nil {
		return nil, false
	}
	if _, ok := signer.PublicKey.(*rsa.PublicKey); !ok {
		return nil, false
	}
	return &Envelope{
		Content:            sd.ContentInfo.Content,
		Certificates:       certs,
		Signer:             signer,
		SignerInfos:        1,
		DigestAlgorithm:    si.DigestAlgorithm.Algorithm,
		SignatureAlgorithm: si.SignatureAlgorithm.Algorithm,
		DER:                bytes.Clone(der),
		fast:               &fastSignature{signature: si.Signature},
	}, true
}

func isSHA256Digest(oid asn1.ObjectIdentifier) bool {
	return oid.Equal(OIDSHA256) || oid.Equal(OIDSHA256WithRSA)
}

var errFastSignature = errors.New("crypto/rsa: verification error")

// verifySignature checks the content's signature with the signer certificate, through
// the fast path's own RSA check or smallstep/pkcs7's.
func (env *Envelope) verifySignature() error {
	if env.fast == nil {
		return env.p7.Verify()
	}
	pub := env.Signer.PublicKey.(*rsa.PublicKey)
	digest := sha256.Sum256(env.Content)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], env.fast.signature); err != nil {
		return errFastSignature
	}
	return nil
}
