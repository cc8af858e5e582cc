package acme

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-acme/lego/v4/challenge"
	"github.com/go-acme/lego/v4/challenge/dns01"
	"github.com/miekg/dns"

	"github.com/tegata-project/tegata/internal/renew/dnsprov"
)

// DNS01 answers dns-01 challenges by publishing TXT records through a
// provider.
type DNS01 struct {
	// Provider writes the records (see package dnsprov).
	Provider dnsprov.Provider
	// Alias, when set, publishes the records at _acme-challenge.<Alias>
	// instead of _acme-challenge.<name>, for zones whose challenge name is a
	// CNAME to that record (acmebot's dnsAlias).
	Alias string
	// PropagationTimeout bounds the wait for the record to be visible
	// (default: the provider's Timeout, else 60s).
	PropagationTimeout time.Duration
	// PollingInterval is the time between two visibility checks (default:
	// the provider's, else 2s). lego waits one interval before the first.
	PollingInterval time.Duration
	// Resolvers (host or host:port) are asked for the record: CNAMEs at the
	// challenge name are followed with them, and the record must be visible
	// on every one of them before the challenge is answered. Empty means
	// the system's resolvers for CNAMEs and lego's check of every
	// authoritative name server of the zone for visibility.
	Resolvers []string
	// DisableCNAME publishes at the challenge name itself, without
	// following a CNAME found there.
	DisableCNAME bool
	// SkipPropagationCheck answers the challenges as soon as the records
	// are written, for resolvers that cannot be asked (the CA still checks).
	SkipPropagationCheck bool
}

func (DNS01) isSolver() {}

// Name following, alias and the propagation check apply in full to
// providers that implement dnsprov.RecordProvider. lego's own providers
// decide the record name themselves (following CNAMEs with lego's
// process-wide resolvers, unless LEGO_DISABLE_CNAME_SUPPORT is set): for
// them Alias is passed as the domain, and DisableCNAME has no effect.

// dnsSolver adapts a DNS01 to lego's challenge.Provider.
type dnsSolver struct {
	ctx               context.Context
	cfg               DNS01
	rec               dnsprov.RecordProvider // nil for a plain provider
	resolvers         []string
	timeout, interval time.Duration

	mu    sync.Mutex
	names map[string]string // target -> record name (after CNAMEs)
}

// sequentialDNSSolver is a dnsSolver whose provider asks lego to solve
// authorizations one at a time.
type sequentialDNSSolver struct {
	*dnsSolver
	seq interface{ Sequential() time.Duration }
}

func (s sequentialDNSSolver) Sequential() time.Duration { return s.seq.Sequential() }

func newDNSSolver(ctx context.Context, cfg DNS01) (challenge.Provider, []dns01.ChallengeOption) {
	s := &dnsSolver{ctx: ctx, cfg: cfg, names: map[string]string{},
		timeout: dns01.DefaultPropagationTimeout, interval: dns01.DefaultPollingInterval}
	s.rec, _ = cfg.Provider.(dnsprov.RecordProvider)
	if pt, ok := cfg.Provider.(challenge.ProviderTimeout); ok {
		s.timeout, s.interval = pt.Timeout()
	}
	if cfg.PropagationTimeout > 0 {
		s.timeout = cfg.PropagationTimeout
	}
	if cfg.PollingInterval > 0 {
		s.interval = cfg.PollingInterval
	}
	s.resolvers = dns01.ParseNameservers(cfg.Resolvers)
	opts := []dns01.ChallengeOption{dns01.WrapPreCheck(s.preCheck)}
	if seq, ok := cfg.Provider.(interface{ Sequential() time.Duration }); ok {
		return sequentialDNSSolver{s, seq}, opts
	}
	return s, opts
}

// Timeout tells lego how long to wait for propagation.
func (s *dnsSolver) Timeout() (timeout, interval time.Duration) { return s.timeout, s.interval }

// target is the domain whose challenge name holds the record.
func (s *dnsSolver) target(domain string) string {
	if s.cfg.Alias != "" {
		return strings.TrimSuffix(s.cfg.Alias, ".")
	}
	return strings.TrimPrefix(domain, "*.")
}

// Present publishes the record for one authorization.
func (s *dnsSolver) Present(domain, token, keyAuth string) error {
	if s.rec == nil {
		return s.cfg.Provider.Present(s.target(domain), token, keyAuth)
	}
	return s.rec.PresentRecord(s.ctx, s.recordName(s.target(domain)), txtValue(keyAuth))
}

// CleanUp removes the record, even after the caller's context ended.
func (s *dnsSolver) CleanUp(domain, token, keyAuth string) error {
	if s.rec == nil {
		return s.cfg.Provider.CleanUp(s.target(domain), token, keyAuth)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), cleanupTimeout)
	defer cancel()
	return s.rec.CleanUpRecord(ctx, s.recordName(s.target(domain)), txtValue(keyAuth))
}

// txtValue is the dns-01 record value: base64url(SHA-256(keyAuth)).
func txtValue(keyAuth string) string {
	sum := sha256.Sum256([]byte(keyAuth))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// recordName returns _acme-challenge.<target>., after following CNAMEs
// found there (unless disabled), as lego does but with our resolvers. The
// name is looked up once per order, so Present, the checks and CleanUp
// agree.
func (s *dnsSolver) recordName(target string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name, ok := s.names[target]; ok {
		return name
	}
	name := s.followCNAMEs("_acme-challenge." + strings.ToLower(dns.Fqdn(target)))
	s.names[target] = name
	return name
}

func (s *dnsSolver) followCNAMEs(fqdn string) string {
	if s.cfg.DisableCNAME {
		return fqdn
	}
	seen := map[string]bool{fqdn: true}
	for range 10 {
		r, err := s.query(fqdn, dns.TypeCNAME)
		if err != nil || r.Rcode != dns.RcodeSuccess {
			return fqdn
		}
		next := ""
		for _, rr := range r.Answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, fqdn) {
				next = strings.ToLower(c.Target)
			}
		}
		if next == "" || seen[next] {
			return fqdn
		}
		seen[next], fqdn = true, next
	}
	return fqdn
}

// servers are the resolvers to ask: the configured ones, else the system's.
func (s *dnsSolver) servers() []string {
	if len(s.resolvers) > 0 {
		return s.resolvers
	}
	conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil || len(conf.Servers) == 0 {
		return nil
	}
	return dns01.ParseNameservers(conf.Servers)
}

// query asks the first resolver that answers.
func (s *dnsSolver) query(name string, qtype uint16) (*dns.Msg, error) {
	var lastErr error = fmt.Errorf("no resolver to ask for %s", name)
	for _, srv := range s.servers() {
		r, err := exchange(s.ctx, srv, name, qtype)
		if err == nil {
			return r, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func exchange(ctx context.Context, server, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(4096, false)
	c := &dns.Client{Timeout: 5 * time.Second}
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, server)
	}
	return r, err
}

// A PropagationError says a challenge record was not (yet) visible.
type PropagationError struct {
	// Name is the record's name, Value the value looked for.
	Name, Value string
	// Server is the resolver asked, and Rcode its answer code.
	Server string
	Rcode  int
	// Found are the values the server returned.
	Found []string
	// Err is the transport error, if the server did not answer.
	Err error
}

func (e *PropagationError) Error() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("asking %s for TXT %s: %v", e.Server, e.Name, e.Err)
	case e.Rcode != dns.RcodeSuccess:
		return fmt.Sprintf("%s answered %s for TXT %s", e.Server, dns.RcodeToString[e.Rcode], e.Name)
	}
	return fmt.Sprintf("%s does not serve %q in TXT %s yet (it serves %q)", e.Server, e.Value, e.Name, e.Found)
}

func (e *PropagationError) Unwrap() error { return e.Err }

// preCheck reports whether the record is visible (lego's WrapPreCheck).
// domain may carry a "*." prefix.
func (s *dnsSolver) preCheck(domain, fqdn, value string, check dns01.PreCheckFunc) (bool, error) {
	if err := s.ctx.Err(); err != nil {
		return true, err // ends lego's wait
	}
	if s.cfg.SkipPropagationCheck {
		return true, nil
	}
	// lego computed fqdn from the authorization's name with its own
	// resolvers; check where we (or, with an alias, the provider) wrote.
	fqdn = s.recordName(s.target(domain))
	if len(s.resolvers) == 0 {
		return check(fqdn, value)
	}
	for _, srv := range s.resolvers {
		r, err := exchange(s.ctx, srv, fqdn, dns.TypeTXT)
		if err != nil {
			return false, &PropagationError{Name: fqdn, Value: value, Server: srv, Err: err}
		}
		var found []string
		for _, rr := range r.Answer {
			if t, ok := rr.(*dns.TXT); ok {
				found = append(found, strings.Join(t.Txt, ""))
			}
		}
		if r.Rcode != dns.RcodeSuccess || !slices.Contains(found, value) {
			return false, &PropagationError{Name: fqdn, Value: value, Server: srv, Rcode: r.Rcode, Found: found}
		}
	}
	return true, nil
}
