package renew

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tegata-project/tegata/internal/renew/acme"
	"github.com/tegata-project/tegata/internal/renew/dnsprov"
	"github.com/tegata-project/tegata/internal/renew/notify"
	"github.com/tegata-project/tegata/internal/renew/schedule"
	"github.com/tegata-project/tegata/internal/store"
)

// Options configure a Service.
type Options struct {
	// Instance names this service in the tags it writes (B.4).
	Instance string
	// Owner identifies this service in the leases it takes. Give the same value
	// across restarts of one service (the same instance, host and data
	// directory), and a different one to each replica sharing a store; empty
	// means a random id per process, whose leases a restart must wait out.
	Owner string
	Vault *Vault
	ACME  *acme.Client
	// DNS are the DNS-01 provider instances definitions name.
	DNS map[string]dnsprov.Provider
	// DNS01 is the template for DNS-01 solving (resolvers, timeouts); Provider
	// and Alias are filled per certificate.
	DNS01 acme.DNS01
	// HTTP01Address is where http-01 challenges are answered (host:port).
	HTTP01Address string
	// Store keeps definitions and renewal state.
	Store    store.Store
	Notifier *notify.Notifier // nil: no webhooks
	Policy   schedule.Policy
	Limits   schedule.Limits
	// Tick is the time between decision passes (default 15 minutes, 1-60).
	Tick  time.Duration
	Clock func() time.Time
	// Sleep waits out a renewal's jitter; nil means a real timer. Tests on an
	// injected clock make it return at once.
	Sleep func(ctx context.Context, d time.Duration) error
	Log   *slog.Logger
}

// A Service keeps the certificates it manages current.
type Service struct {
	o       Options
	limiter *schedule.Limiter
	rnd     *rand.Rand
	rndMu   sync.Mutex

	owner string // this service's lease owner id

	mu      sync.Mutex
	running map[string]bool // names with an operation in flight (claim)
	locks   map[string]*recordLock

	// beforePassSave, when set (by tests), runs in a pass between reading a
	// record and saving it.
	beforePassSave func(name string)
}

// record is what the service keeps per certificate, in the store under
// renew/certs/<name>.
type record struct {
	Definition  Definition     `json:"definition"`
	State       schedule.State `json:"state"`
	Version     string         `json:"version,omitempty"`
	CertID      string         `json:"certId,omitempty"`
	Serial      string         `json:"serial,omitempty"`
	LastError   string         `json:"lastError,omitempty"`
	LastErrorAt time.Time      `json:"lastErrorAt,omitzero"`
	Issued      int            `json:"issued"`
	// Revoked is the last revocation, of the serial it names (which may no
	// longer be the current one after a renewal).
	Revoked *Revocation `json:"revoked,omitempty"`
	// History holds the latest attempts, newest last (maxHistory of them).
	History []Attempt `json:"history,omitempty"`
}

const recordPrefix = "renew/certs/"

// New returns a Service.
func New(o Options) (*Service, error) {
	if o.Vault == nil || o.ACME == nil || o.Store == nil {
		return nil, errors.New("renew: a vault, an ACME client and a store are required")
	}
	if o.Owner == "" {
		o.Owner = newOwnerID(o.Instance)
	}
	if o.Tick == 0 {
		o.Tick = 15 * time.Minute
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if o.Limits == (schedule.Limits{}) {
		o.Limits = schedule.Limits{PerAccount: 4, PerProvider: 2, PerSequentialProvider: 1}
	}
	if o.Policy == (schedule.Policy{}) {
		o.Policy = schedule.DefaultPolicy()
	}
	return &Service{o: o, limiter: schedule.NewLimiter(o.Limits), rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x7e6a7a)),
		owner: o.Owner, running: map[string]bool{}}, nil
}

func (s *Service) load(ctx context.Context, name string) (*record, error) {
	b, err := s.o.Store.Blob(ctx, recordPrefix+strings.ToLower(name))
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("renew: stored record of %s is unreadable: %w", name, err)
	}
	return &r, nil
}

func (s *Service) save(ctx context.Context, r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.o.Store.PutBlob(ctx, recordPrefix+strings.ToLower(r.Definition.Name), b)
}

// Define starts managing d without issuing it: it validates d, checks its DNS
// provider, and stores it. The first issuance is the caller's (Renew), or the
// next pass's.
func (s *Service) Define(ctx context.Context, d Definition) (Definition, error) {
	if err := d.Validate(); err != nil {
		return d, fmt.Errorf("%w: %w", ErrInvalidDefinition, err)
	}
	if !d.HTTP01 && s.o.DNS[d.DNSProvider] == nil {
		return d, fmt.Errorf("%w: dnsProviderName: %q is not a configured DNS provider (have: %s)", ErrInvalidDefinition, d.DNSProvider, strings.Join(s.providerNames(), ", "))
	}
	if d.HTTP01 && s.o.HTTP01Address == "" {
		return d, fmt.Errorf("%w: http01: this service answers no HTTP-01 challenges (set renew.http01_listen)", ErrInvalidDefinition)
	}
	if _, err := s.load(ctx, d.Name); err == nil {
		return d, fmt.Errorf("certificateName: %s: %w; renew it, or delete it first", d.Name, ErrAlreadyManaged)
	}
	r := &record{Definition: d, State: schedule.State{Enabled: !d.Disabled}}
	if err := s.save(ctx, r); err != nil {
		return d, err
	}
	return d, nil
}

// Add starts managing d and issues its first certificate now (or adopts the
// vault's current one when it is fresh). It returns the issue's error, if any;
// the definition is kept either way and retried by the schedule.
func (s *Service) Add(ctx context.Context, d Definition) (Status, error) {
	d, err := s.Define(ctx, d)
	if err != nil {
		return Status{}, err
	}
	r := &record{Definition: d, State: schedule.State{Enabled: !d.Disabled}}
	st := s.status(r)
	done, err := s.claim(d.Name)
	if err != nil {
		return st, err
	}
	defer done()
	var aerr error
	ok, err := s.withLease(ctx, d.Name, func(r *record) error {
		aerr = s.attempt(ctx, r, true)
		st = s.status(r)
		return nil
	})
	if err != nil {
		return st, err
	}
	if !ok {
		s.o.Log.Info("renew: another replica issues this certificate", "certificate", d.Name)
	}
	return st, aerr
}

func (s *Service) providerNames() []string {
	var names []string
	for n := range s.o.DNS {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Renew renews name now, whatever its schedule says.
func (s *Service) Renew(ctx context.Context, name string) (Status, error) {
	if _, err := s.load(ctx, name); err != nil {
		return Status{}, fmt.Errorf("%s: %w (%v)", name, ErrNotManaged, err)
	}
	done, err := s.claim(name)
	if err != nil {
		return Status{}, err
	}
	defer done()
	var st Status
	var aerr error
	ok, err := s.withLease(ctx, name, func(r *record) error {
		aerr = s.attempt(ctx, r, true)
		st = s.status(r)
		return nil
	})
	if err != nil {
		return st, err
	}
	if !ok {
		return st, fmt.Errorf("%s: %w (%v); try again when it is done", name, ErrBusy, errLeased)
	}
	return st, aerr
}

// attempt runs one issuance for r and records the outcome; the vault's
// current version is never touched on failure. The caller holds the name's
// claim and its record (withLease).
func (s *Service) attempt(ctx context.Context, r *record, first bool) error {
	release, err := s.limiter.Acquire(ctx, schedule.Slot{Account: s.o.ACME.Account().URI, Provider: r.Definition.DNSProvider})
	if err != nil {
		return err
	}
	defer release()

	renewal := r.Version != ""
	err = s.issue(ctx, r)
	now := s.o.Clock()
	ev := notify.Event{Certificate: r.Definition.Name, Vault: s.o.Vault.URL, Names: r.Definition.DNSNames, Time: now, ACMEEndpoint: s.endpoint()}
	if err != nil {
		class := classify(err)
		r.State = r.State.Failed(now, class, acme.RetryAfter(err))
		r.LastError, r.LastErrorAt = err.Error(), now
		s.o.Log.Warn("renewal failed; the current certificate stays", "certificate", r.Definition.Name, "class", class, "err", err)
		ev.Type, ev.Error = notify.EventFailed, err.Error()
		r.remember(Attempt{At: now, Action: actionOf(renewal), Error: err.Error()})
	} else {
		r.LastError = ""
		ev.Type, ev.Version, ev.NotAfter = notify.EventIssued, r.Version, r.State.NotAfter
		if renewal {
			ev.Type = notify.EventRenewed
		}
		r.remember(Attempt{At: now, Action: actionOf(renewal), OK: true, Version: r.Version, Serial: r.Serial, NotAfter: r.State.NotAfter})
		s.o.Log.Info("certificate issued", "certificate", r.Definition.Name, "version", r.Version, "not_after", r.State.NotAfter)
	}
	if serr := s.save(ctx, r); serr != nil && err == nil {
		err = fmt.Errorf("the certificate was issued but its state was not saved: %w", serr)
	}
	if s.o.Notifier != nil {
		s.o.Notifier.Send(ctx, ev)
	}
	return err
}

// issue is the flow of B.5: CSR from the vault, order with the CA (replacing
// the current certificate through ARI), merge, tags.
func (s *Service) issue(ctx context.Context, r *record) error {
	d := &r.Definition
	cur, err := s.o.Vault.current(ctx, d.Name)
	if err != nil {
		return err
	}
	replaces := ""
	if cur != nil {
		replaces, _ = acme.CertID(cur.Leaf)
	}
	csr, err := s.o.Vault.beginCSR(ctx, d)
	if err != nil {
		return err
	}
	order := acme.Order{Names: d.DNSNames, CSR: csr, Profile: d.Profile, ReplacesCertID: replaces, PreferredChain: d.PreferredChain}
	if d.HTTP01 {
		order.Solver = acme.HTTP01{Address: s.o.HTTP01Address}
	} else {
		dns := s.o.DNS01
		dns.Provider = s.o.DNS[d.DNSProvider]
		dns.Alias = d.DNSAlias
		if dns.Provider == nil {
			return fmt.Errorf("dnsProviderName: %q is not a configured DNS provider", d.DNSProvider)
		}
		order.Solver = dns
	}
	cert, err := s.o.ACME.Obtain(ctx, order)
	if err != nil {
		// Drop the pending operation (and its key): the next attempt orders afresh.
		s.o.Vault.abandon(context.WithoutCancel(ctx), d.Name)
		return err
	}
	leaf := cert.Chain[0]
	certID, _ := acme.CertID(leaf)
	version, err := s.o.Vault.merge(ctx, d.Name, cert.Chain, map[string]string{"tegata": writeTag(s.o.Instance, s.endpoint(), certID)})
	if err != nil {
		return err
	}
	r.Version, r.CertID, r.Serial = version, certID, leaf.SerialNumber.Text(16)
	r.State = r.State.Renewed(leaf.NotBefore, leaf.NotAfter, s.o.Clock())
	r.Issued++
	return nil
}

func (s *Service) endpoint() string {
	u, err := url.Parse(s.o.ACME.Directory().NewOrderURL)
	if err != nil {
		return ""
	}
	return u.Host
}

// classify maps an attempt's error to the scheduler's classes (B.5 Retries).
func classify(err error) schedule.ErrorClass {
	switch {
	case errors.Is(err, acme.ErrRateLimited):
		return schedule.RateLimited
	case errors.Is(err, acme.ErrDNS):
		return schedule.DNS
	case errors.Is(err, acme.ErrUnauthorized):
		return schedule.Unauthorized
	case errors.Is(err, acme.ErrCAA):
		return schedule.CAA
	case errors.Is(err, acme.ErrRejectedIdentifier):
		return schedule.RejectedIdentifier
	case errors.Is(err, acme.ErrMalformed):
		return schedule.Malformed
	case errors.Is(err, acme.ErrCAUnavailable):
		return schedule.CAUnavailable
	case errors.Is(err, ErrVault):
		return schedule.Vault
	default:
		return schedule.Other
	}
}
