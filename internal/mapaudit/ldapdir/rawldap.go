package ldapdir

import (
	"fmt"
	"io"
	"net"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// A few LDAP operations written on the bare connection, before go-ldap
// takes it over: go-ldap has no SASL bind but GSSAPI (Kerberos), and the
// NTLM bind through GSS-SPNEGO that AD and Samba both accept has to be
// done first. RFC 4511 lets message IDs be reused once their operation
// completed, so go-ldap starting again at 1 afterwards is fine.

// maxBindMessage bounds one response read during the bind: a bind
// response with an NTLM challenge is a few hundred bytes.
const maxBindMessage = 64 << 10

// LDAP result codes used here (RFC 4511 4.1.9).
const (
	resultSuccess            = 0
	resultSASLBindInProgress = 14
	resultInvalidCredentials = 49
)

// ldapResult is an LDAPResult, with the bind response's serverSaslCreds.
type ldapResult struct {
	Code       int64
	Diagnostic string
	SASLCreds  []byte
}

// rawConn exchanges LDAP messages on a connection go-ldap does not own yet.
type rawConn struct {
	conn    net.Conn
	nextID  int64
	timeout time.Duration
}

// roundTrip sends op in a message and reads the response whose protocolOp
// has application tag want.
func (c *rawConn) roundTrip(op *ber.Packet, want ber.Tag) (*ldapResult, error) {
	c.nextID++
	msg := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	msg.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, c.nextID, "MessageID"))
	msg.AppendChild(op)
	if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return nil, err
	}
	defer c.conn.SetDeadline(time.Time{})
	if _, err := c.conn.Write(msg.Bytes()); err != nil {
		return nil, err
	}
	resp, err := ber.ReadPacket(io.LimitReader(c.conn, maxBindMessage))
	if err != nil {
		return nil, fmt.Errorf("reading the response: %w", err)
	}
	if len(resp.Children) < 2 {
		return nil, fmt.Errorf("malformed LDAP message (%d elements)", len(resp.Children))
	}
	if id, ok := resp.Children[0].Value.(int64); !ok || id != c.nextID {
		return nil, fmt.Errorf("response to message %v, expected %d (the server sent a notice of disconnection?)", resp.Children[0].Value, c.nextID)
	}
	return parseResult(resp.Children[1], want)
}

func parseResult(p *ber.Packet, want ber.Tag) (*ldapResult, error) {
	if p.ClassType != ber.ClassApplication || p.Tag != want || len(p.Children) < 3 {
		return nil, fmt.Errorf("unexpected LDAP response (class %d, tag %d)", p.ClassType, p.Tag)
	}
	r := &ldapResult{}
	code, ok := p.Children[0].Value.(int64)
	if !ok {
		return nil, fmt.Errorf("LDAP response without a result code")
	}
	r.Code = code
	r.Diagnostic, _ = p.Children[2].Value.(string)
	for _, c := range p.Children[3:] {
		if c.ClassType == ber.ClassContext && c.Tag == 7 { // serverSaslCreds
			r.SASLCreds = c.Data.Bytes()
		}
	}
	return r, nil
}

// saslBind sends a SASL bind request of mechanism with credentials.
func (c *rawConn) saslBind(mechanism string, credentials []byte) (*ldapResult, error) {
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 0, nil, "Bind Request")
	req.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, "Version"))
	req.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", "Name"))
	auth := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, "SaslCredentials")
	auth.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, mechanism, "Mechanism"))
	auth.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, string(credentials), "Credentials"))
	req.AppendChild(auth)
	return c.roundTrip(req, 1)
}

// oidStartTLS is the StartTLS extended operation (RFC 4511 4.14).
const oidStartTLS = "1.3.6.1.4.1.1466.20037"

// startTLS asks the server to start TLS; the caller then runs the
// handshake on the same connection.
func (c *rawConn) startTLS() (*ldapResult, error) {
	req := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 23, nil, "Extended Request")
	req.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, oidStartTLS, "Request Name"))
	return c.roundTrip(req, 24)
}
