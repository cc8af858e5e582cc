package renew

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tegata-project/tegata/internal/renew/acme"
	"github.com/tegata-project/tegata/internal/renew/notify"
	"github.com/tegata-project/tegata/internal/renew/schedule"
	"github.com/tegata-project/tegata/internal/store"
)

// Status is what the service reports about one certificate.
type Status struct {
	Name        string    `json:"name"`
	DNSNames    []string  `json:"dnsNames"`
	Version     string    `json:"version,omitempty"`
	Serial      string    `json:"serial,omitempty"`
	NotBefore   time.Time `json:"notBefore,omitzero"`
	NotAfter    time.Time `json:"expiresOn,omitzero"`
	NextRenewal time.Time `json:"nextRenewal,omitzero"`
	Basis       string    `json:"renewalBasis,omitempty"`
	Issued      int       `json:"issued"`
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
	Disabled    bool      `json:"disabled,omitempty"`
	// Revoked is set when the current version was revoked at the CA.
	Revoked          bool      `json:"revoked,omitempty"`
	RevokedAt        time.Time `json:"revokedAt,omitzero"`
	RevocationReason string    `json:"revocationReason,omitempty"`
	// InProgress: this process is issuing, revoking or deleting it now.
	InProgress bool `json:"inProgress,omitempty"`
	// LastResult is "issued", "renewed", "revoked", or "<action> failed",
	// from the latest entry of the history.
	LastResult string `json:"lastResult,omitempty"`
}

func (s *Service) status(r *record) Status {
	d := s.o.Policy.Decide(r.State, s.o.Clock(), nil)
	st := Status{
		Name: r.Definition.Name, DNSNames: r.Definition.DNSNames, Version: r.Version, Serial: r.Serial,
		NotBefore: r.State.NotBefore, NotAfter: r.State.NotAfter, Issued: r.Issued,
		LastError: r.LastError, LastErrorAt: r.LastErrorAt, Disabled: r.Definition.Disabled,
		NextRenewal: d.RenewAt, Basis: string(d.Basis),
	}
	if !d.RetryAt.IsZero() && d.RetryAt.After(st.NextRenewal) {
		st.NextRenewal = d.RetryAt
	}
	if rv := r.Revoked; rv != nil && rv.Serial == r.Serial {
		st.Revoked, st.RevokedAt, st.RevocationReason = true, rv.At, rv.Reason
	}
	if s.running != nil {
		st.InProgress = s.inFlight(r.Definition.Name)
	}
	if n := len(r.History); n > 0 {
		a := r.History[n-1]
		switch {
		case !a.OK:
			st.LastResult = a.Action + " failed"
		case a.Action == "revoke":
			st.LastResult = "revoked"
		case a.Action == "renew":
			st.LastResult = "renewed"
		default:
			st.LastResult = "issued"
		}
	}
	return st
}

// List reports every managed certificate, sorted by name.
func (s *Service) List(ctx context.Context) ([]Status, error) {
	return Stored(ctx, s.o.Store, s.o.Policy, s.o.Clock())
}

// Stored reports the certificates managed in st as of now, sorted by name,
// without a running service (for `tegata renew list`).
func Stored(ctx context.Context, st store.Store, p schedule.Policy, now time.Time) ([]Status, error) {
	names, err := st.Blobs(ctx, recordPrefix)
	if err != nil {
		return nil, err
	}
	tmp := &Service{o: Options{Store: st, Policy: p, Clock: func() time.Time { return now }}}
	out := make([]Status, 0, len(names))
	for _, n := range names {
		r, err := tmp.load(ctx, strings.TrimPrefix(n, recordPrefix))
		if err != nil {
			return nil, err
		}
		out = append(out, tmp.status(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// passWorkers bounds the certificates a pass works on at once (the limiter
// bounds the ACME orders among them further). An issuance spends most of its
// time waiting for the CA to validate, so the bound is set by what a CA accepts
// at once rather than by this machine: 64 keep 30 issuances a second going
// against Pebble on 2 cores (BenchmarkIssueAndRenew500).
const passWorkers = 64

// Pass runs one decision pass: it polls ARI where due, raises alerts, and
// renews every certificate that is due (concurrently, within the limits). A
// certificate with nothing to do costs a read; one with work is handled under
// its lease, so replicas sharing the store never both act on it. It returns how
// many renewals it started.
func (s *Service) Pass(ctx context.Context) (int, error) {
	names, err := s.o.Store.Blobs(ctx, recordPrefix)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	var started atomic.Int64
	slots := make(chan struct{}, passWorkers)
	for _, n := range names {
		name := strings.TrimPrefix(n, recordPrefix)
		r, err := s.load(ctx, name)
		if err != nil {
			s.o.Log.Error("renew: skipping an unreadable record", "record", n, "err", err)
			continue
		}
		if d := s.o.Policy.Decide(r.State, s.o.Clock(), nil); !d.RenewNow && !d.PollARI && len(d.Alerts) == 0 {
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return int(started.Load()), ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			_, err := s.withLease(ctx, name, func(r *record) error {
				now := s.o.Clock()
				s.rndMu.Lock()
				d := s.o.Policy.Decide(r.State, now, s.rnd)
				s.rndMu.Unlock()
				r.State = d.State
				if d.PollARI {
					s.pollARI(ctx, r, now)
				}
				for _, a := range d.Alerts {
					s.alert(ctx, r, a, now)
				}
				if s.beforePassSave != nil {
					s.beforePassSave(name)
				}
				if err := s.save(ctx, r); err != nil {
					return err
				}
				if !d.RenewNow {
					return nil
				}
				// Claimed before the jitter: an edit, revocation or deletion
				// asked for meanwhile is refused as busy, rather than
				// waiting for the record until the attempt ends.
				done, err := s.claim(name)
				if err != nil {
					s.o.Log.Info("renew: the certificate is busy; renewing at the next pass", "certificate", name)
					return nil
				}
				defer done()
				started.Add(1)
				if s.o.Sleep(ctx, d.Jitter) != nil {
					return nil
				}
				s.attempt(ctx, r, false)
				return nil
			})
			if err != nil && ctx.Err() == nil {
				s.o.Log.Error("renew: pass", "certificate", name, "err", err)
			}
		}()
	}
	wg.Wait()
	return int(started.Load()), nil
}

func (s *Service) pollARI(ctx context.Context, r *record, now time.Time) {
	cur, err := s.o.Vault.current(ctx, r.Definition.Name)
	if err != nil || cur == nil {
		r.State = r.State.ARIFailed(now, 0)
		return
	}
	info, err := s.o.ACME.RenewalInfo(ctx, cur.Leaf, nil)
	if errors.Is(err, acme.ErrNoARI) {
		r.State.ARI.Advertised = false
		return
	}
	if err != nil {
		r.State = r.State.ARIFailed(now, acme.RetryAfter(err))
		s.o.Log.Warn("renew: ARI poll failed", "certificate", r.Definition.Name, "err", err)
		return
	}
	s.rndMu.Lock()
	st, err := r.State.ObserveARI(schedule.RenewalInfo{Window: schedule.Window{Start: info.Start, End: info.End}, ExplanationURL: info.ExplanationURL, RetryAfter: info.RetryAfter}, now, s.rnd)
	s.rndMu.Unlock()
	r.State = st
	if err != nil {
		s.o.Log.Warn("renew: the CA's renewal window is invalid; keeping the previous one", "certificate", r.Definition.Name, "err", err)
	}
}

func (s *Service) alert(ctx context.Context, r *record, a schedule.Alert, now time.Time) {
	s.o.Log.Warn("renew: "+string(a), "certificate", r.Definition.Name, "expires", r.State.NotAfter, "last_error", r.LastError)
	if s.o.Notifier != nil {
		s.o.Notifier.Send(ctx, notify.Event{Type: notify.EventType(a), Certificate: r.Definition.Name, Vault: s.o.Vault.URL,
			Names: r.Definition.DNSNames, NotAfter: r.State.NotAfter, Error: r.LastError, Time: now})
	}
}

// Run makes a pass every Tick until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.o.Tick)
	defer t.Stop()
	for {
		if _, err := s.Pass(ctx); err != nil && ctx.Err() == nil {
			s.o.Log.Error("renew: decision pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
