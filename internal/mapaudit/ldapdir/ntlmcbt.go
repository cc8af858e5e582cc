package ldapdir

import (
	"crypto"
	"crypto/md5"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// Channel binding for the NTLM bind over TLS: DCs that require strong
// LDAP authentication (Samba's default, Windows with LdapEnforceChannelBinding
// = 2) accept a SASL bind inside TLS only when the NTLMv2 response carries
// the TLS channel's binding, the MsvAvChannelBindings AV pair (MS-NLMP
// 2.2.2.1): the MD5 of a gss_channel_bindings_struct whose application data
// is "tls-server-end-point:" and the hash of the server's certificate
// (RFC 5929 4.1).

// tlsServerEndPoint returns the RFC 5929 tls-server-end-point binding of
// the server certificate: its hash with the certificate's signature hash,
// SHA-256 for MD5 and SHA-1.
func tlsServerEndPoint(cert *x509.Certificate) []byte {
	var h hash.Hash
	switch cert.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		h = crypto.SHA384.New()
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		h = crypto.SHA512.New()
	default:
		h = sha256.New()
	}
	h.Write(cert.Raw)
	return append([]byte("tls-server-end-point:"), h.Sum(nil)...)
}

// channelBindingHash is the MsvAvChannelBindings value: the MD5 of the
// gss_channel_bindings_struct with no addresses and appData.
func channelBindingHash(appData []byte) [16]byte {
	b := make([]byte, 16, 20+len(appData)) // four zero fields: addrtype, address length, twice
	b = binary.LittleEndian.AppendUint32(b, uint32(len(appData)))
	return md5.Sum(append(b, appData...))
}

// NTLM AV pair IDs (MS-NLMP 2.2.2.1).
const (
	avEOL             = 0x0000
	avChannelBindings = 0x000A
)

// ntlmRequestTarget is NTLMSSP_REQUEST_TARGET: the server then sends its
// target information (with its timestamp), as Windows clients ask.
const ntlmRequestTarget = 0x00000004

// maxChallenge bounds the CHALLENGE message accepted.
const maxChallenge = 8 << 10

// withChannelBinding returns the CHALLENGE message with cbt as the
// MsvAvChannelBindings pair of its target information, which the NTLMv2
// response then covers: the target information is rewritten at the end of
// the message and its field pointed there.
func withChannelBinding(challenge []byte, cbt [16]byte) ([]byte, error) {
	bad := func(what string) error {
		return fmt.Errorf("the server's NTLM CHALLENGE message is malformed: %s", what)
	}
	if len(challenge) < 48 || len(challenge) > maxChallenge || string(challenge[:8]) != "NTLMSSP\x00" ||
		binary.LittleEndian.Uint32(challenge[8:]) != 2 {
		return nil, bad("not a CHALLENGE message")
	}
	infoLen := int(binary.LittleEndian.Uint16(challenge[40:]))
	infoOff := int(binary.LittleEndian.Uint32(challenge[44:]))
	if infoOff < 48 || infoOff > len(challenge) || infoLen > len(challenge)-infoOff {
		return nil, bad("target information outside the message")
	}
	var info []byte
	for rest := challenge[infoOff : infoOff+infoLen]; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, bad("truncated AV pair")
		}
		id, n := binary.LittleEndian.Uint16(rest), int(binary.LittleEndian.Uint16(rest[2:]))
		if len(rest) < 4+n {
			return nil, bad("truncated AV pair")
		}
		if id == avEOL {
			break
		}
		if id != avChannelBindings {
			info = append(info, rest[:4+n]...)
		}
		rest = rest[4+n:]
	}
	info = binary.LittleEndian.AppendUint16(info, avChannelBindings)
	info = binary.LittleEndian.AppendUint16(info, 16)
	info = append(info, cbt[:]...)
	info = append(info, 0, 0, 0, 0) // MsvAvEOL
	if len(challenge)+len(info) > maxChallenge {
		return nil, errors.New("the server's NTLM CHALLENGE message is too large")
	}
	out := append(append([]byte(nil), challenge...), info...)
	binary.LittleEndian.PutUint16(out[40:], uint16(len(info)))
	binary.LittleEndian.PutUint16(out[42:], uint16(len(info)))
	binary.LittleEndian.PutUint32(out[44:], uint32(len(challenge)))
	return out, nil
}
