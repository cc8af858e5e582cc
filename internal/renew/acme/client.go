package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/go-acme/lego/v4/certcrypto"
	"github.com/go-acme/lego/v4/lego"
	legolog "github.com/go-acme/lego/v4/log"
	"github.com/go-acme/lego/v4/registration"
)

// An Account is an ACME account: its key signs every request, and its URI
// (the "kid") names it at the CA once registered.
type Account struct {
	// Email is the contact address given at registration; it may be empty.
	Email string
	// Key is the account key: an *ecdsa.PrivateKey on P-256 or P-384, or
	// an *rsa.PrivateKey.
	Key crypto.Signer
	// URI is the account URL the CA returned at registration; empty for an
	// account not registered yet.
	URI string
}

// EAB is an external account binding: the key ID and MAC key a CA that
// requires one (meta.externalAccountRequired) hands out. The binding is
// signed with HS256, the only algorithm lego supports.
type EAB struct {
	KeyID string
	// HMACBase64 is the MAC key, base64url-encoded as CAs hand it out
	// (standard base64 is accepted too).
	HMACBase64 string
}

// Config configures a Client.
type Config struct {
	// DirectoryURL is the CA's ACME directory (https only).
	DirectoryURL string
	// Account is the account to act as. With an empty URI, NewClient
	// registers it (agreeing to the CA's terms of service).
	Account Account
	// EAB binds a new registration to an external account; ignored when
	// Account.URI is set.
	EAB *EAB
	// HTTPClient carries every request to the CA. nil means a client with
	// a 30-second timeout and the system's roots. It is not modified.
	HTTPClient *http.Client
	// UserAgent is prepended to lego's User-Agent.
	UserAgent string
}

// Directory is what a CA's directory advertises.
type Directory struct {
	// NewOrderURL is where orders are placed.
	NewOrderURL string
	// RenewalInfoURL is the ARI endpoint, empty when the CA has none.
	RenewalInfoURL string
	// Profiles maps the profile names the CA offers to their descriptions.
	Profiles map[string]string
	// ExternalAccountRequired reports meta.externalAccountRequired.
	ExternalAccountRequired bool
	// TermsOfService is the URL of the terms a registration agrees to.
	TermsOfService string
	// CAAIdentities are the domain names the CA recognises in CAA records.
	CAAIdentities []string
}

// A Client talks to one CA as one account. It is safe for concurrent use.
type Client struct {
	cfg     Config
	http    *http.Client
	dir     Directory
	account Account
}

// DirectoryURL is the CA's ACME directory the client was made for.
func (c *Client) DirectoryURL() string { return c.cfg.DirectoryURL }

// NewClient fetches the CA's directory and, when cfg.Account.URI is
// empty, registers the account (with cfg.EAB when given); Account then
// returns the URI to persist. Errors are classified like Obtain's.
func NewClient(ctx context.Context, cfg Config) (*Client, error) {
	if err := checkAccountKey(cfg.Account.Key); err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.DirectoryURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("acme: directory URL %q is not an https URL", cfg.DirectoryURL)
	}
	c := &Client{cfg: cfg, http: cfg.HTTPClient, account: cfg.Account}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	c.dir, err = c.fetchDirectory(ctx)
	if err != nil {
		return nil, err
	}
	if c.account.URI == "" {
		if err := c.register(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Account returns the account, with the URI the CA gave it.
func (c *Client) Account() Account { return c.account }

// Directory returns what the CA's directory advertised when the client
// was made.
func (c *Client) Directory() Directory { return c.dir }

func checkAccountKey(k crypto.Signer) error {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return nil
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
	case nil:
		return errors.New("acme: the account has no key")
	}
	return fmt.Errorf("acme: account key %T is not supported: use an ECDSA P-256 or P-384 key, or an RSA key", k)
}

func (c *Client) fetchDirectory(ctx context.Context) (Directory, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.DirectoryURL, nil)
	if err != nil {
		return Directory{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Directory{}, classify("fetching the ACME directory", err, nil)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Directory{}, classify("fetching the ACME directory", err, nil)
	}
	if resp.StatusCode != http.StatusOK {
		return Directory{}, statusError("fetching the ACME directory "+c.cfg.DirectoryURL, resp, body)
	}
	var d struct {
		NewOrder    string `json:"newOrder"`
		RenewalInfo string `json:"renewalInfo"`
		Meta        struct {
			TermsOfService          string          `json:"termsOfService"`
			ExternalAccountRequired bool            `json:"externalAccountRequired"`
			CAAIdentities           []string        `json:"caaIdentities"`
			Profiles                json.RawMessage `json:"profiles"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(body, &d); err != nil || d.NewOrder == "" {
		return Directory{}, fmt.Errorf("acme: %s is not an ACME directory (%v)", c.cfg.DirectoryURL, err)
	}
	dir := Directory{
		NewOrderURL: d.NewOrder, RenewalInfoURL: d.RenewalInfo,
		ExternalAccountRequired: d.Meta.ExternalAccountRequired,
		TermsOfService:          d.Meta.TermsOfService, CAAIdentities: d.Meta.CAAIdentities,
	}
	// draft-ietf-acme-profiles: a map of name to description. Tolerate a
	// CA that sends something else by ignoring it.
	_ = json.Unmarshal(d.Meta.Profiles, &dir.Profiles)
	return dir, nil
}

func (c *Client) register(ctx context.Context) error {
	lc, tr, err := c.lego(ctx)
	if err != nil {
		return err
	}
	var res *registration.Resource
	if c.cfg.EAB != nil {
		res, err = lc.Registration.RegisterWithExternalAccountBinding(registration.RegisterEABOptions{
			TermsOfServiceAgreed: true, Kid: c.cfg.EAB.KeyID, HmacEncoded: eabKey(c.cfg.EAB.HMACBase64),
		})
	} else {
		res, err = lc.Registration.Register(registration.RegisterOptions{TermsOfServiceAgreed: true})
	}
	if err != nil {
		return classify("registering the ACME account", err, tr)
	}
	if res == nil || res.URI == "" {
		return errors.New("acme: the CA registered the account but returned no account URL")
	}
	c.account.URI = res.URI
	return nil
}

// eabKey converts a standard-base64 MAC key to the base64url lego decodes.
func eabKey(s string) string {
	b := []byte(s)
	for i, ch := range b {
		switch ch {
		case '+':
			b[i] = '-'
		case '/':
			b[i] = '_'
		}
	}
	for len(b) > 0 && b[len(b)-1] == '=' {
		b = b[:len(b)-1]
	}
	return string(b)
}

// lego returns a lego client whose every request is bound to ctx and
// recorded by the returned tracker. Each call fetches the directory once.
func (c *Client) lego(ctx context.Context) (*lego.Client, *tracker, error) {
	tr := &tracker{ctx: ctx, base: c.http.Transport, newOrder: c.dir.NewOrderURL}
	if tr.base == nil {
		tr.base = http.DefaultTransport
	}
	hc := *c.http // lego wraps the transport of the client it is given
	hc.Transport = tr
	lc, err := lego.NewClient(&lego.Config{
		CADirURL:   c.cfg.DirectoryURL,
		User:       user{c.account},
		UserAgent:  c.cfg.UserAgent,
		HTTPClient: &hc,
		Certificate: lego.CertificateConfig{
			KeyType: certcrypto.EC256, // unused: Obtain always gives lego a key or a CSR
			Timeout: 2 * time.Minute,  // for the certificate after finalization
		},
	})
	if err != nil {
		return nil, nil, classify("connecting to the CA", err, tr)
	}
	return lc, tr, nil
}

// user adapts an Account to lego's registration.User.
type user struct{ a Account }

func (u user) GetEmail() string { return u.a.Email }
func (u user) GetRegistration() *registration.Resource {
	if u.a.URI == "" {
		return nil
	}
	return &registration.Resource{URI: u.a.URI}
}
func (u user) GetPrivateKey() crypto.PrivateKey { return u.a.Key }

// A tracker is the transport of one lego client: it binds every request
// to the caller's context and remembers what the CA answered, which lego
// does not report (5xx statuses without a problem document, rejections of
// newOrder that lego retried on its own).
type tracker struct {
	ctx      context.Context
	base     http.RoundTripper
	newOrder string

	mu             sync.Mutex
	last5xx        int // status of the last 5xx answer, 0 when the last answer was not one
	alreadyReplace bool
}

func (t *tracker) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req.WithContext(t.ctx))
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last5xx = 0
	if resp.StatusCode >= 500 {
		t.last5xx = resp.StatusCode
	}
	if resp.StatusCode == http.StatusConflict && req.Method == http.MethodPost && req.URL.String() == t.newOrder {
		t.alreadyReplace = true // the only 409 newOrder answers (RFC 9773 §5)
	}
	return resp, nil
}

func (t *tracker) serverError() int {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last5xx
}

func (t *tracker) sawAlreadyReplaced() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.alreadyReplace
}

// SetLogger sends lego's log lines to l at level Info (lego's "[WARN]"
// lines at Warn). lego's logger is a process-wide variable: call this
// once, at start-up. Without it lego writes to standard error.
func SetLogger(l *slog.Logger) {
	legolog.Logger = slogAdapter{l}
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) emit(msg string) {
	level := slog.LevelInfo
	if len(msg) > 6 && msg[:6] == "[WARN]" {
		level = slog.LevelWarn
	}
	a.l.Log(context.Background(), level, msg, "component", "lego")
}
func (a slogAdapter) Print(args ...any)                 { a.emit(fmt.Sprint(args...)) }
func (a slogAdapter) Println(args ...any)               { a.emit(fmt.Sprint(args...)) }
func (a slogAdapter) Printf(format string, args ...any) { a.emit(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Fatal(args ...any)                 { a.fatal(fmt.Sprint(args...)) }
func (a slogAdapter) Fatalln(args ...any)               { a.fatal(fmt.Sprint(args...)) }
func (a slogAdapter) Fatalf(format string, args ...any) { a.fatal(fmt.Sprintf(format, args...)) }
func (a slogAdapter) fatal(msg string) {
	a.l.Error(msg, "component", "lego")
	os.Exit(1)
}
