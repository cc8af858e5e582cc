package ldapdir

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/Azure/go-ntlmssp"
)

// The NTLM bind: SASL mechanism GSS-SPNEGO (RFC 4178) carrying NTLMSSP
// messages, which AD and Samba accept over TLS. (go-ldap's NTLMBind sends
// Microsoft's "Sicily" bind instead, which Samba does not implement.) The
// client asks for neither signing nor sealing: TLS protects the session,
// and both servers refuse a SASL security layer inside TLS.

var (
	oidSPNEGO  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 2}
	oidNTLMSSP = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 10}
)

// SPNEGO negState values (RFC 4178 4.2.2).
const (
	negAcceptCompleted  = 0
	negAcceptIncomplete = 1
	negReject           = 2
)

type negTokenInit struct {
	MechTypes []asn1.ObjectIdentifier `asn1:"explicit,tag:0"`
	MechToken []byte                  `asn1:"explicit,optional,tag:2"`
}

type negTokenResp struct {
	NegState      asn1.Enumerated       `asn1:"explicit,optional,tag:0,default:-1"`
	SupportedMech asn1.ObjectIdentifier `asn1:"explicit,optional,tag:1"`
	ResponseToken []byte                `asn1:"explicit,optional,tag:2"`
	MechListMIC   []byte                `asn1:"explicit,optional,tag:3"`
}

// spnegoInit wraps an NTLM NEGOTIATE message in the initial SPNEGO token:
// [APPLICATION 0] { SPNEGO OID, [0] NegTokenInit }.
func spnegoInit(ntlmNegotiate []byte) ([]byte, error) {
	init, err := asn1.Marshal(negTokenInit{MechTypes: []asn1.ObjectIdentifier{oidNTLMSSP}, MechToken: ntlmNegotiate})
	if err != nil {
		return nil, err
	}
	choice, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: init})
	if err != nil {
		return nil, err
	}
	mech, err := asn1.Marshal(oidSPNEGO)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassApplication, Tag: 0, IsCompound: true, Bytes: append(mech, choice...)})
}

// spnegoResp wraps an NTLM AUTHENTICATE message: [1] NegTokenResp.
func spnegoResp(ntlmAuthenticate []byte) ([]byte, error) {
	resp, err := asn1.Marshal(negTokenResp{NegState: -1, ResponseToken: ntlmAuthenticate})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: resp})
}

// parseSPNEGOResp reads the server's [1] NegTokenResp.
func parseSPNEGOResp(b []byte) (*negTokenResp, error) {
	var choice asn1.RawValue
	if rest, err := asn1.Unmarshal(b, &choice); err != nil || len(rest) > 0 || choice.Class != asn1.ClassContextSpecific || choice.Tag != 1 {
		return nil, fmt.Errorf("the server's SPNEGO token is not a NegTokenResp")
	}
	var r negTokenResp
	if rest, err := asn1.Unmarshal(choice.Bytes, &r); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("the server's SPNEGO NegTokenResp is malformed: %v", err)
	}
	return &r, nil
}

// errBindRefused marks a bind the server answered with a failure code.
var errBindRefused = errors.New("bind refused")

// ntlmBind binds as domain\user with password through GSS-SPNEGO/NTLM;
// server is the TLS server certificate, whose binding the response carries.
func (c *rawConn) ntlmBind(domain, user, password string, server *x509.Certificate) error {
	negotiate, err := ntlmssp.NewNegotiateMessage(domain, "")
	if err != nil {
		return err
	}
	if len(negotiate) >= 16 { // NegotiateFlags at offset 12 (MS-NLMP 2.2.1.1)
		binary.LittleEndian.PutUint32(negotiate[12:], binary.LittleEndian.Uint32(negotiate[12:])|ntlmRequestTarget)
	}
	token, err := spnegoInit(negotiate)
	if err != nil {
		return err
	}
	res, err := c.saslBind("GSS-SPNEGO", token)
	if err != nil {
		return err
	}
	if res.Code != resultSASLBindInProgress {
		return fmt.Errorf("%w: LDAP result %d to the NTLM negotiation: %s", errBindRefused, res.Code, res.Diagnostic)
	}
	challenge, err := parseSPNEGOResp(res.SASLCreds)
	if err != nil {
		return err
	}
	if challenge.NegState == negReject || len(challenge.ResponseToken) == 0 {
		return fmt.Errorf("%w: the server rejected NTLM in SPNEGO (negState %d)", errBindRefused, challenge.NegState)
	}
	if len(challenge.SupportedMech) > 0 && !challenge.SupportedMech.Equal(oidNTLMSSP) {
		return fmt.Errorf("%w: the server chose mechanism %s instead of NTLM", errBindRefused, challenge.SupportedMech)
	}
	bound, err := withChannelBinding(challenge.ResponseToken, channelBindingHash(tlsServerEndPoint(server)))
	if err != nil {
		return err
	}
	authenticate, err := ntlmssp.NewAuthenticateMessage(bound, domain+`\`+user, password, nil)
	if err != nil {
		return fmt.Errorf("answering the NTLM challenge: %w", err)
	}
	if token, err = spnegoResp(authenticate); err != nil {
		return err
	}
	if res, err = c.saslBind("GSS-SPNEGO", token); err != nil {
		return err
	}
	if res.Code != resultSuccess {
		return fmt.Errorf("%w: LDAP result %d: %s", errBindRefused, res.Code, res.Diagnostic)
	}
	if len(res.SASLCreds) > 0 {
		if done, err := parseSPNEGOResp(res.SASLCreds); err != nil || done.NegState != negAcceptCompleted {
			return fmt.Errorf("%w: the server ended SPNEGO without accepting (%v)", errBindRefused, err)
		}
	}
	return nil
}
