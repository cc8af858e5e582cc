package attest

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultAIAHosts are the CA Issuers hosts Azure's chains use (§3.4 of the
// reference). The China profile adds cacerts.digicert.cn and
// cacerts.geotrust.com.
var DefaultAIAHosts = []string{"www.microsoft.com", "caissuers.microsoft.com", "cacerts.digicert.com"}

// AIAOptions configures an AIAFetcher. Zero values mean the defaults given.
type AIAOptions struct {
	// AllowedHosts are the exact host names that may be fetched; nil means
	// DefaultAIAHosts. A URL on another host is skipped, not fatal.
	AllowedHosts []string
	// Offline makes the fetcher return nothing without ever dialing, for
	// hosts with no egress.
	Offline bool
	// AllowLoopback permits loopback targets and any port. It exists for
	// tests against httptest servers; never set it in production.
	AllowLoopback bool
	// RequestTimeout bounds each request; default 5 s.
	RequestTimeout time.Duration
	// WalkTimeout bounds one whole walk; default 15 s.
	WalkTimeout time.Duration
	// MaxBytes bounds each response body; default 64 KiB.
	MaxBytes int64
	// MaxFetches bounds network fetches per walk; default 8.
	MaxFetches int
	// MaxDepth bounds the issuer levels walked; default 4.
	MaxDepth int
	// PositiveTTL is how long a URL's certificates are reused, capped by
	// their NotAfter; default 24 h.
	PositiveTTL time.Duration
	// NegativeTTL is how long a failed URL is not retried; default 5 min.
	NegativeTTL time.Duration
	// Now is the cache's clock; nil means time.Now.
	Now func() time.Time
	// UserAgent is sent with every request; www.microsoft.com has refused
	// some default agents.
	UserAgent string
}

// An AIAFetcher is a FallbackSource that downloads missing issuers from the
// CA Issuers URLs of the Authority Information Access extension, walking up
// to MaxDepth levels (Sub CA, then cross-certificate). It only fetches plain
// http URLs on port 80 of allow-listed hosts, refuses to connect to
// private, loopback, link-local and other special addresses (checked on the
// address actually dialed, so DNS rebinding cannot bypass it), ignores proxy
// settings, follows at most 3 redirects, and caches successes and failures.
// It keeps a downloaded certificate only if it is a CA that really issued
// the certificate being walked. It is safe for concurrent use.
type AIAFetcher struct {
	opts   AIAOptions
	client *http.Client

	mu    sync.Mutex
	cache map[string]aiaEntry
}

type aiaEntry struct {
	certs   []*x509.Certificate
	err     error
	expires time.Time
}

// NewAIAFetcher returns a fetcher with opts, defaults filled in.
func NewAIAFetcher(opts AIAOptions) *AIAFetcher {
	if opts.AllowedHosts == nil {
		opts.AllowedHosts = DefaultAIAHosts
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.RequestTimeout, 5*time.Second)
	def(&opts.WalkTimeout, 15*time.Second)
	def(&opts.PositiveTTL, 24*time.Hour)
	def(&opts.NegativeTTL, 5*time.Minute)
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 64 << 10
	}
	if opts.MaxFetches <= 0 {
		opts.MaxFetches = 8
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "tegata-attest/1 (+https://github.com/tegata-project/tegata)"
	}
	f := &AIAFetcher{opts: opts, cache: map[string]aiaEntry{}}
	dialer := &net.Dialer{Timeout: opts.RequestTimeout, Control: f.checkDial}
	f.client = &http.Client{
		Timeout: opts.RequestTimeout,
		Transport: &http.Transport{
			Proxy:                  nil, // a proxy would dial for us and defeat the address check
			DialContext:            dialer.DialContext,
			MaxResponseHeaderBytes: 16 << 10,
			DisableKeepAlives:      true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("more than 3 redirects")
			}
			if _, err := f.normalise(req.URL.String()); err != nil {
				return fmt.Errorf("redirect refused: %w", err)
			}
			return nil
		},
	}
	return f
}

// FallbackOnly reports true: Verify consults the fetcher only when the path
// cannot be built from the other sources.
func (f *AIAFetcher) FallbackOnly() bool { return true }

// checkDial runs after name resolution, on the exact address about to be
// connected, which is what makes it immune to DNS rebinding.
func (f *AIAFetcher) checkDial(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("attest: aia: dial address %q is not an IP", address)
	}
	ip = ip.Unmap()
	if f.opts.AllowLoopback && ip.IsLoopback() {
		return nil
	}
	if blockedIP(ip) {
		return fmt.Errorf("attest: aia: refusing to connect to %s: private, loopback, link-local or reserved address", ip)
	}
	return nil
}

var blockedPrefixes = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "168.63.129.16/32", "192.0.0.0/24", "192.0.2.0/24",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001:2::/48", "2001:db8::/32", "fc00::/7", "fe80::/10",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// blockedIP reports addresses an AIA fetch must never reach: everything but
// public unicast, including IMDS (169.254.169.254) and the Azure platform
// address 168.63.129.16.
func blockedIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// normalise checks a CA Issuers URL against the scheme, host and port rules
// and returns it without userinfo, query and fragment.
func (f *AIAFetcher) normalise(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("unparsable URL: %w", err)
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("scheme %q is not http", u.Scheme)
	}
	host := strings.ToLower(u.Hostname())
	allowed := false
	for _, h := range f.opts.AllowedHosts {
		if strings.EqualFold(h, host) {
			allowed = true
			break
		}
	}
	if !allowed {
		return "", fmt.Errorf("host %q is not in the AIA allow-list", host)
	}
	if p := u.Port(); p != "" && p != "80" && !f.opts.AllowLoopback {
		return "", fmt.Errorf("port %s is not 80", p)
	}
	n := url.URL{Scheme: "http", Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return n.String(), nil
}

// Intermediates walks the AIA chain upwards from req.Signer. Certificates
// already in req.Known are followed without fetching; the walk stops at a
// certificate that verifies against req.Roots, at a self-signed certificate,
// or at MaxDepth. URLs that are not allowed or fail are skipped and reported
// in the joined error while the walk goes on.
func (f *AIAFetcher) Intermediates(ctx context.Context, req ChainRequest) ([]*x509.Certificate, error) {
	if f.opts.Offline || req.Signer == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.opts.WalkTimeout)
	defer cancel()
	var out []*x509.Certificate
	var errs []error
	seenURL := map[string]bool{}
	seenCert := map[[32]byte]bool{}
	fetches := 0
	frontier := []*x509.Certificate{req.Signer}
	for depth := 0; depth < f.opts.MaxDepth && len(frontier) > 0; depth++ {
		var next []*x509.Certificate
		for _, cur := range frontier {
			if isSelfSigned(cur) || anchored(cur, req) {
				continue
			}
			if k := findIssuer(cur, req.Known, out); k != nil {
				next = append(next, k)
				continue
			}
			for _, raw := range cur.IssuingCertificateURL {
				u, err := f.normalise(raw)
				if err != nil {
					errs = append(errs, fmt.Errorf("attest: aia: skipped %s: %w", raw, err))
					continue
				}
				if seenURL[u] {
					continue
				}
				seenURL[u] = true
				certs, cached, err := f.get(ctx, u, fetches >= f.opts.MaxFetches)
				if !cached {
					fetches++
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("attest: aia: %s: %w", u, err))
					continue
				}
				found := false
				for _, c := range certs {
					k := sha256.Sum256(c.Raw)
					if seenCert[k] || isSelfSigned(c) || !issued(c, cur) {
						continue // self-signed downloads are never anchors
					}
					seenCert[k] = true
					out = append(out, c)
					next = append(next, c)
					found = true
				}
				if found {
					break
				}
			}
		}
		frontier = next
	}
	return out, errors.Join(errs...)
}

// get returns the certificates at u from the cache or the network. With
// cacheOnly set (fetch budget spent) a cache miss is an error.
func (f *AIAFetcher) get(ctx context.Context, u string, cacheOnly bool) (certs []*x509.Certificate, cached bool, err error) {
	now := f.opts.Now()
	f.mu.Lock()
	e, ok := f.cache[u]
	f.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.certs, true, e.err
	}
	if cacheOnly {
		return nil, true, fmt.Errorf("fetch budget of %d per verification spent", f.opts.MaxFetches)
	}
	certs, err = f.download(ctx, u)
	e = aiaEntry{certs: certs, err: err, expires: now.Add(f.opts.NegativeTTL)}
	if err == nil {
		e.expires = now.Add(f.opts.PositiveTTL)
		for _, c := range certs {
			if c.NotAfter.Before(e.expires) {
				e.expires = c.NotAfter
			}
		}
	}
	f.mu.Lock()
	f.cache[u] = e
	f.mu.Unlock()
	return certs, false, err
}

func (f *AIAFetcher) download(ctx context.Context, u string) ([]*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", f.opts.UserAgent)
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %d", resp.StatusCode) // never echo the body
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.opts.MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > f.opts.MaxBytes {
		return nil, fmt.Errorf("response larger than %d bytes", f.opts.MaxBytes)
	}
	certs, err := ParseCertificates(body)
	if err != nil {
		return nil, fmt.Errorf("response is not a certificate: %w", err)
	}
	return certs, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return string(c.RawSubject) == string(c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

// issued reports whether cand is a CA that signed child, with matching
// names and, when both are present, matching key identifiers.
func issued(cand, child *x509.Certificate) bool {
	if !cand.IsCA || string(cand.RawSubject) != string(child.RawIssuer) {
		return false
	}
	if len(cand.SubjectKeyId) > 0 && len(child.AuthorityKeyId) > 0 && string(cand.SubjectKeyId) != string(child.AuthorityKeyId) {
		return false
	}
	return child.CheckSignatureFrom(cand) == nil
}

func findIssuer(c *x509.Certificate, lists ...[]*x509.Certificate) *x509.Certificate {
	for _, l := range lists {
		for _, k := range l {
			if k != c && issued(k, c) {
				return k
			}
		}
	}
	return nil
}

// anchored reports whether c chains to the roots with no intermediates, in
// which case nothing above it needs fetching.
func anchored(c *x509.Certificate, req ChainRequest) bool {
	if req.Roots == nil {
		return false
	}
	_, err := c.Verify(x509.VerifyOptions{Roots: req.Roots, CurrentTime: req.At, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err == nil
}
