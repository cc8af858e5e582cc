package schedule

import (
	"math/rand/v2"
	"time"
)

// Basis says which rule set [Decision.RenewAt].
type Basis string

// The bases of a renewal instant.
const (
	// BasisARI: the persisted pick in the ARI suggested window.
	BasisARI Basis = "ari"
	// BasisRatio: NotBefore + lifetime × ratio.
	BasisRatio Basis = "ratio"
	// BasisDays: NotAfter − BeforeExpiry, earlier than the ratio.
	BasisDays Basis = "days"
	// BasisCap: the safety cap NotAfter − lifetime/6, earlier than the rest.
	BasisCap Basis = "cap"
	// BasisInvalid: NotAfter is not after NotBefore; due at once.
	BasisInvalid Basis = "invalid"
)

// Alert names a condition worth telling a person about. The values are the
// webhook event types of package notify.
type Alert string

// The alerts.
const (
	// AlertOverdue: less than lifetime/3 remains and the last attempt failed.
	AlertOverdue Alert = "renewal.overdue"
	// AlertExpiring: less than lifetime/6 remains.
	AlertExpiring Alert = "certificate.expiring"
	// AlertExpired: the certificate has expired.
	AlertExpired Alert = "certificate.expired"
)

// Policy holds the service-wide settings of [Policy.Decide]. The zero Policy
// follows the tegata renewal decision with no floors and raises each alert
// once per certificate version.
type Policy struct {
	// OverdueFloor raises the [AlertOverdue] threshold from lifetime/3 to
	// this much remaining validity when that is larger: with short lifetimes
	// a failing renewal is then reported early enough for a person to act.
	OverdueFloor time.Duration
	// ExpiringFloor also raises [AlertExpiring] while less than this much
	// validity remains and the last attempt failed, even when more than
	// lifetime/6 remains.
	ExpiringFloor time.Duration
	// AlertRepeat is how long a raised alert stays quiet before it is raised
	// again while its condition holds; zero or negative means never again.
	AlertRepeat time.Duration
}

// DefaultPolicy returns the policy of [Decide]: no floors, alerts repeated daily.
func DefaultPolicy() Policy {
	return Policy{AlertRepeat: 24 * time.Hour}
}

// Decision is the outcome of [Decide] for one certificate at one instant.
type Decision struct {
	// RenewNow says to enqueue a renewal attempt now, to start after Jitter.
	// The caller runs at most one attempt per certificate at a time: Decide
	// keeps saying RenewNow until the attempt's outcome is recorded with
	// [State.Failed] or [State.Renewed].
	RenewNow bool
	// RenewAt is when the certificate is due, and Basis which rule set it.
	// Both are zero for a disabled certificate.
	RenewAt time.Time
	Basis   Basis
	// RetryAt is the earliest next attempt after a failure ([State.RetryAt]);
	// zero when the last attempt did not fail.
	RetryAt time.Time
	// PollARI says to poll ARI now (and record the answer with
	// [State.ObserveARI] or [State.ARIFailed]). It is false while RenewNow
	// is true. PollARIAt is when the poll is due; zero without ARI.
	PollARI   bool
	PollARIAt time.Time
	// Jitter is the delay before starting the attempt, uniform in
	// [0, min(5 min, lifetime/200)); zero unless RenewNow.
	Jitter time.Duration
	// Alerts lists the alerts raised by this decision, in the order
	// overdue, expiring, expired; nil when none.
	Alerts []Alert
	// State is the input state with the ARI pick filled in when it was
	// missing and the alert log updated. Persist it.
	State State
}

// Decide applies [DefaultPolicy] to s at now. See [Policy.Decide].
func Decide(s State, now time.Time, r *rand.Rand) Decision {
	return DefaultPolicy().Decide(s, now, r)
}

// Decide returns the renewal decision for s at now, drawing random values
// (the ARI pick when missing, the jitter) from r, or from the global source
// when r is nil. It does no I/O and, unless it raises an alert, no allocation.
// A disabled State gets a zero Decision that carries s unchanged.
func (p Policy) Decide(s State, now time.Time, r *rand.Rand) Decision {
	d := Decision{State: s}
	if !s.Enabled {
		return d
	}
	lifetime := s.Lifetime()
	if lifetime <= 0 {
		d.RenewAt, d.Basis = now, BasisInvalid
	} else {
		d.RenewAt, d.Basis = p.renewAt(&d.State, lifetime, r)
	}
	d.RetryAt = s.RetryAt()
	d.RenewNow = !now.Before(d.RenewAt) && !now.Before(d.RetryAt)
	if d.RenewNow {
		if j := jitterMax(lifetime); j > 0 {
			d.Jitter = time.Duration(int64n(r, int64(j)))
		}
	}
	if s.ARI.Advertised {
		d.PollARIAt = s.ARI.NextPoll
		d.PollARI = !d.RenewNow && !now.Before(s.ARI.NextPoll)
	}
	p.alert(&d, lifetime, now)
	return d
}

// renewAt returns the renewal instant of s (lifetime > 0) and its basis,
// filling in a missing ARI pick.
func (p Policy) renewAt(s *State, lifetime time.Duration, r *rand.Rand) (time.Time, Basis) {
	var at time.Time
	var basis Basis
	if s.ARI.Advertised && s.ARI.Window.Valid() {
		if s.ARI.Pick.IsZero() {
			s.ARI.Pick = s.ARI.Window.pick(r)
		}
		at, basis = s.ARI.Pick, BasisARI
	} else {
		at, basis = s.NotBefore.Add(ratioOf(lifetime, s.Ratio)), BasisRatio
		if s.BeforeExpiry > 0 {
			if days := s.NotAfter.Add(-s.BeforeExpiry); days.Before(at) {
				at, basis = days, BasisDays
			}
		}
	}
	if limit := s.NotAfter.Add(-lifetime / 6); limit.Before(at) {
		at, basis = limit, BasisCap
	}
	return at, basis
}

// ratioOf returns lifetime × ratio, with [DefaultRatio] computed exactly in
// integers when ratio is not a positive number.
func ratioOf(lifetime time.Duration, ratio float64) time.Duration {
	if !(ratio > 0) {
		return lifetime - lifetime/3
	}
	if ratio >= 1 {
		return lifetime
	}
	return time.Duration(float64(lifetime) * ratio)
}

// jitterMax returns min(MaxJitter, lifetime/200), or MaxJitter when the
// lifetime is not positive.
func jitterMax(lifetime time.Duration) time.Duration {
	if l := lifetime / 200; lifetime > 0 && l < MaxJitter {
		return l
	}
	return MaxJitter
}

// alert raises the alerts whose conditions hold at now and are not muted by
// the alert log, recording them in d.State.Alerted.
func (p Policy) alert(d *Decision, lifetime time.Duration, now time.Time) {
	s := &d.State
	if s.NotAfter.IsZero() {
		return
	}
	remaining := s.NotAfter.Sub(now)
	if remaining <= 0 {
		p.raise(d, AlertExpired, &s.Alerted.Expired, now)
		return
	}
	if lifetime <= 0 {
		return
	}
	failing := s.Last.Failed()
	if failing && remaining < max(lifetime/3, p.OverdueFloor) {
		p.raise(d, AlertOverdue, &s.Alerted.Overdue, now)
	}
	if remaining < lifetime/6 || (failing && remaining < p.ExpiringFloor) {
		p.raise(d, AlertExpiring, &s.Alerted.Expiring, now)
	}
}

// raise appends a to d.Alerts and sets *last to now, unless a was raised at
// *last less than AlertRepeat ago (or ever, when AlertRepeat is not positive).
func (p Policy) raise(d *Decision, a Alert, last *time.Time, now time.Time) {
	if !last.IsZero() && (p.AlertRepeat <= 0 || now.Sub(*last) < p.AlertRepeat) {
		return
	}
	*last = now
	d.Alerts = append(d.Alerts, a)
}
