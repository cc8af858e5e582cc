package ldapdir

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// OIDPagedResults is the paged-results control (RFC 2696), which the RootDSE
// must list in supportedControl.
const OIDPagedResults = "1.2.840.113556.1.4.319"

// maxCAFile bounds the CA file read into the TLS roots.
const maxCAFile = 4 << 20

// session is one bound connection and what the RootDSE said.
type session struct {
	ctx  context.Context
	cfg  Config
	conn *ldap.Conn
	stop func() bool // unregisters the close-on-cancel hook

	baseDN, configNC string
	paging           bool
}

// withDefaults fills zero fields and checks the rest.
func (cfg Config) withDefaults() (Config, *url.URL, error) {
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxEntries == 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	switch {
	case cfg.PageSize < 1 || cfg.PageSize > MaxPageSize:
		return cfg, nil, fmt.Errorf("%w: page size %d is outside 1..%d (AD refuses larger pages by default)", ErrConfig, cfg.PageSize, MaxPageSize)
	case cfg.Timeout < 0:
		return cfg, nil, fmt.Errorf("%w: timeout %s is negative", ErrConfig, cfg.Timeout)
	case cfg.MaxEntries < 0:
		return cfg, nil, fmt.Errorf("%w: max entries %d is negative", ErrConfig, cfg.MaxEntries)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return cfg, nil, fmt.Errorf("%w: URL %q is not ldaps://host[:port] or ldap://host[:port] (no path, query or user)", ErrConfig, cfg.URL)
	}
	switch u.Scheme {
	case "ldaps":
		if cfg.StartTLS {
			return cfg, nil, fmt.Errorf("%w: StartTLS applies to ldap:// URLs; %s is already TLS, drop --start-tls", ErrConfig, cfg.URL)
		}
	case "ldap":
		if !cfg.StartTLS {
			return cfg, nil, fmt.Errorf("%w: %s without StartTLS would send the password and the directory's data in clear text (and DCs that require LDAP signing refuse it); use ldaps://%s:636, or add --start-tls",
				ErrInsecureTransport, cfg.URL, u.Hostname())
		}
	default:
		return cfg, nil, fmt.Errorf("%w: URL scheme %q is not ldaps or ldap", ErrConfig, u.Scheme)
	}
	if cfg.NTLMDomain != "" && cfg.BindDN == "" {
		return cfg, nil, fmt.Errorf("%w: an NTLM bind (domain %q) needs a user name (--bind-dn)", ErrConfig, cfg.NTLMDomain)
	}
	if cfg.BindDN != "" && cfg.Password == "" {
		return cfg, nil, fmt.Errorf("%w: bind name %q has an empty password; an empty password is an unauthenticated bind that AD accepts and then refuses every search, so give the password (--password-file)", ErrConfig, cfg.BindDN)
	}
	return cfg, u, nil
}

// tlsConfig verifies the directory's certificate against CAFile (or the
// system roots) and the URL's host (or ServerName).
func (cfg Config) tlsConfig(u *url.URL) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	if cfg.CAFile != "" {
		pemData, err := readBounded(cfg.CAFile, maxCAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: CA file: %v", ErrConfig, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("%w: CA file %s holds no PEM certificate; give the PEM of the CA that issued the DC's LDAPS certificate", ErrConfig, cfg.CAFile)
		}
	}
	return tc, nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than the %d bytes accepted", path, limit)
	}
	return b, nil
}

// open dials, upgrades to TLS, binds and reads the RootDSE. The connection
// closes when ctx is cancelled, which ends any operation in flight.
func open(ctx context.Context, cfg Config) (_ *session, err error) {
	cfg, u, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tc, err := cfg.tlsConfig(u)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn, err := dial(ctx, cfg, u, tc)
	if err != nil {
		return nil, err
	}
	s := &session{ctx: ctx, cfg: cfg, conn: conn}
	s.stop = context.AfterFunc(ctx, func() { conn.Close() })
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := s.bind(); err != nil {
		return nil, err
	}
	if err := s.readRootDSE(); err != nil {
		return nil, err
	}
	return s, nil
}

// dial connects, completes TLS (LDAPS, or StartTLS on ldap://) within ctx
// and the timeout, and makes an NTLM bind when one is configured, all
// before go-ldap takes the connection.
func dial(ctx context.Context, cfg Config, u *url.URL, tc *tls.Config) (*ldap.Conn, error) {
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = ldap.DefaultLdapsPort
		if u.Scheme == "ldap" {
			port = ldap.DefaultLdapPort
		}
	}
	addr := net.JoinHostPort(host, port)
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("ldapdir: connecting to %s (%s): %w; check the host name, the port and that a firewall lets it through", cfg.URL, addr, err)
	}
	// Closing the connection when ctx ends interrupts StartTLS, the
	// handshake and the bind.
	stop := context.AfterFunc(dctx, func() { raw.Close() })
	tconn, err := secure(dctx, cfg, u, raw, tc)
	if err == nil && cfg.NTLMDomain != "" {
		err = ntlmBind(cfg, &rawConn{conn: tconn, timeout: cfg.Timeout}, tconn.ConnectionState().PeerCertificates[0])
	}
	stop()
	if err != nil {
		raw.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	conn := ldap.NewConn(tconn, true)
	conn.Start()
	conn.SetTimeout(cfg.Timeout)
	return conn, nil
}

// secure runs the TLS handshake, after StartTLS for an ldap:// URL.
func secure(ctx context.Context, cfg Config, u *url.URL, raw net.Conn, tc *tls.Config) (*tls.Conn, error) {
	if u.Scheme == "ldap" {
		res, err := (&rawConn{conn: raw, timeout: cfg.Timeout}).startTLS()
		if err == nil && res.Code != resultSuccess {
			err = fmt.Errorf("LDAP result %d: %s", res.Code, res.Diagnostic)
		}
		if err != nil {
			return nil, fmt.Errorf("ldapdir: StartTLS on %s failed: %w; the server may not offer StartTLS: use ldaps://%s:636", cfg.URL, err, u.Hostname())
		}
	}
	tconn := tls.Client(raw, tc)
	if err := tconn.HandshakeContext(ctx); err != nil {
		return nil, &TLSError{URL: cfg.URL, CAFile: cfg.CAFile, Err: err}
	}
	return tconn, nil
}

// ntlmBind makes the NTLM bind (see rawConn.ntlmBind) and describes a
// failure.
func ntlmBind(cfg Config, c *rawConn, server *x509.Certificate) error {
	err := c.ntlmBind(cfg.NTLMDomain, cfg.BindDN, cfg.Password, server)
	if err == nil {
		return nil
	}
	be := &BindError{URL: cfg.URL, User: cfg.NTLMDomain + `\` + cfg.BindDN, Method: "NTLM (GSS-SPNEGO)", Err: err}
	switch {
	case errors.Is(err, errBindRefused) && strings.Contains(err.Error(), "Sign or Seal are required"):
		be.Hint = "this Samba (before 4.20) refuses SASL binds inside TLS unless smb.conf sets ldap server require strong auth = allow_sasl_over_tls; set it, or use a simple bind over LDAPS (--bind-dn user@domain without --ntlm-domain)"
	case !errors.Is(err, errBindRefused):
		be.Hint = "the server did not complete the SASL GSS-SPNEGO exchange; check that it is an AD or Samba DC (supportedSASLMechanisms lists GSS-SPNEGO), or use a simple bind (--bind-dn user@domain without --ntlm-domain)"
	}
	return be
}

func (s *session) close() {
	s.stop()
	s.conn.Close()
}

// failed turns an operation's error into the caller's: the context's error
// once it is cancelled (closing the connection made the operation fail).
func (s *session) failed(err error) error {
	if cerr := s.ctx.Err(); cerr != nil {
		return fmt.Errorf("ldapdir: %s: %w", s.cfg.URL, cerr)
	}
	return err
}

func (s *session) bind() error {
	cfg := s.cfg
	switch {
	case cfg.BindDN == "":
		return nil // anonymous: AD answers the RootDSE only
	case cfg.NTLMDomain != "":
		return nil // bound by dial, before go-ldap took the connection
	default:
		if err := s.conn.Bind(cfg.BindDN, cfg.Password); err != nil {
			return s.failed(&BindError{URL: cfg.URL, User: cfg.BindDN, Method: "simple", Err: err})
		}
	}
	return nil
}

func (s *session) readRootDSE() error {
	req := ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, int(s.cfg.Timeout.Seconds()), false,
		"(objectClass=*)", []string{"defaultNamingContext", "configurationNamingContext", "supportedControl"}, nil)
	res, err := s.conn.Search(req)
	if err != nil {
		return s.failed(fmt.Errorf("ldapdir: reading the RootDSE of %s: %w; the bind succeeded, so the server is not an LDAP v3 directory or refuses RootDSE reads", s.cfg.URL, err))
	}
	if len(res.Entries) != 1 {
		return fmt.Errorf("ldapdir: the RootDSE of %s returned %d entries; expected one", s.cfg.URL, len(res.Entries))
	}
	e := res.Entries[0]
	s.baseDN = s.cfg.BaseDN
	if s.baseDN == "" {
		s.baseDN = e.GetEqualFoldAttributeValue("defaultNamingContext")
	}
	if s.baseDN == "" {
		return fmt.Errorf("%w: the RootDSE of %s has no defaultNamingContext; give the base DN (--base-dn), such as DC=corp,DC=example", ErrConfig, s.cfg.URL)
	}
	s.configNC = e.GetEqualFoldAttributeValue("configurationNamingContext")
	s.paging = slices.Contains(e.GetEqualFoldAttributeValues("supportedControl"), OIDPagedResults)
	return nil
}
