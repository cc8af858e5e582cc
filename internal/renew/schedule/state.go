package schedule

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Timing constants of the renewal decision.
const (
	// DefaultRatio is the fraction of the lifetime after which a certificate
	// without ARI renews when [State.Ratio] is not set.
	DefaultRatio = 2.0 / 3

	// ARIPollDefault is the ARI polling interval when the CA sends no Retry-After.
	ARIPollDefault = 6 * time.Hour
	// ARIPollMin and ARIPollMax bound the CA's Retry-After for ARI polls.
	ARIPollMin = 1 * time.Hour
	ARIPollMax = 24 * time.Hour
	// ARIRetryDefault is the wait after a failed ARI poll without Retry-After.
	ARIRetryDefault = 1 * time.Hour

	// BackoffBase is the wait after the first failed attempt; it doubles with
	// every further consecutive failure.
	BackoffBase = 5 * time.Minute
	// BackoffMax caps the backoff; lifetime/24 caps it further for short
	// lifetimes.
	BackoffMax = 6 * time.Hour

	// MaxJitter caps the enqueue jitter; lifetime/200 caps it further.
	MaxJitter = 5 * time.Minute
)

// State is what the renewal service persists for one managed certificate
// between ticks. Times are compared as instants; their location does not matter.
//
// A zero State is disabled. An enabled State whose NotAfter is not after its
// NotBefore (for instance a certificate that was never issued) is due at once.
type State struct {
	// NotBefore and NotAfter are the validity of the current certificate version.
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	// Enabled is false for a certificate whose automatic renewal is switched off.
	Enabled bool `json:"enabled"`
	// Ratio is the fraction of the lifetime after which the certificate renews
	// when ARI gives no window. Zero, negative or NaN means [DefaultRatio].
	Ratio float64 `json:"ratio,omitempty"`
	// BeforeExpiry, when positive, also renews the certificate once no more
	// than this much validity remains (Acmebot's RenewBeforeExpiry). It only
	// ever moves the renewal earlier, and is not used while an ARI pick exists.
	BeforeExpiry time.Duration `json:"beforeExpiry,omitempty"`
	// ARI is the renewal information of the current certificate.
	ARI ARI `json:"ari"`
	// Last describes the last renewal attempt.
	Last Attempt `json:"last"`
	// Today counts the failed attempts of the current UTC day, per class.
	Today DailyCounts `json:"today"`
	// Alerted remembers when each alert was last raised.
	Alerted AlertLog `json:"alerted"`
}

// ARI is the ACME Renewal Information (RFC 9773) state of one certificate.
type ARI struct {
	// Advertised is true when the directory has a renewalInfo URL and the
	// certificate has an Authority Key Identifier, so ARI can be polled.
	Advertised bool `json:"advertised"`
	// Window is the last suggested window received; zero before the first poll.
	Window Window `json:"window"`
	// ExplanationURL is the CA's explanation of the last window, if any.
	ExplanationURL string `json:"explanationURL,omitempty"`
	// NextPoll is when ARI should be polled next; zero means at once.
	NextPoll time.Time `json:"nextPoll"`
	// Pick is the one random instant in Window at which the certificate renews.
	// It is drawn when the window is first seen or changes, and then kept.
	Pick time.Time `json:"pick"`
}

// Window is an ARI suggested renewal window, [Start, End).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// IsZero reports whether w holds no window.
func (w Window) IsZero() bool { return w.Start.IsZero() && w.End.IsZero() }

// Valid reports whether w is usable: End is after Start. RFC 9773 asks
// clients to treat a window whose end precedes its start as invalid.
func (w Window) Valid() bool { return w.End.After(w.Start) }

// Equal reports whether w and v are the same window.
func (w Window) Equal(v Window) bool { return w.Start.Equal(v.Start) && w.End.Equal(v.End) }

// pick returns a uniform random instant in [Start, End); w must be valid.
func (w Window) pick(r *rand.Rand) time.Time {
	return w.Start.Add(time.Duration(int64n(r, int64(w.End.Sub(w.Start)))))
}

// int64n returns a uniform value in [0, n) from r, or from the global source
// when r is nil. n must be positive.
func int64n(r *rand.Rand, n int64) int64 {
	if r == nil {
		return rand.Int64N(n)
	}
	return r.Int64N(n)
}

// Attempt describes the last renewal attempt of a certificate.
type Attempt struct {
	// Time is when the attempt ended; zero when there was none.
	Time time.Time `json:"time"`
	// Class is why the attempt failed; empty when it succeeded.
	Class ErrorClass `json:"class,omitempty"`
	// Failures counts consecutive failed attempts; zero after a success.
	Failures int `json:"failures,omitempty"`
	// RetryAfter is the CA's Retry-After on the failure, zero when absent.
	RetryAfter time.Duration `json:"retryAfter,omitempty"`
}

// Failed reports whether the last attempt failed.
func (a Attempt) Failed() bool { return a.Failures > 0 }

// DailyCounts counts failed attempts per error class during one UTC day.
// In JSON it is {"day":"<RFC 3339>","counts":{"<class>":n,…}}.
type DailyCounts struct {
	// Day is midnight UTC of the day the counts belong to.
	Day time.Time
	// Counts holds one counter per class, in the order of [Classes].
	Counts [numClasses]uint16
}

// Of returns the count of class c.
func (d DailyCounts) Of(c ErrorClass) int { return int(d.Counts[c.index()]) }

// hard returns the total count of the hard classes.
func (d DailyCounts) hard() int {
	n := 0
	for i, c := range Classes {
		if c.Hard() {
			n += int(d.Counts[i])
		}
	}
	return n
}

type dailyCountsJSON struct {
	Day    time.Time             `json:"day"`
	Counts map[ErrorClass]uint16 `json:"counts,omitempty"`
}

// MarshalJSON encodes d with the counts keyed by class name.
func (d DailyCounts) MarshalJSON() ([]byte, error) {
	v := dailyCountsJSON{Day: d.Day}
	for i, n := range d.Counts {
		if n > 0 {
			if v.Counts == nil {
				v.Counts = make(map[ErrorClass]uint16)
			}
			v.Counts[Classes[i]] = n
		}
	}
	return json.Marshal(v)
}

// UnmarshalJSON decodes the form written by MarshalJSON; counts of unknown
// classes are added to [Other].
func (d *DailyCounts) UnmarshalJSON(b []byte) error {
	var v dailyCountsJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("schedule: daily counts: %w", err)
	}
	*d = DailyCounts{Day: v.Day}
	for c, n := range v.Counts {
		i := c.index()
		d.Counts[i] = satAdd(d.Counts[i], n)
	}
	return nil
}

// satAdd returns a+b, saturating at the largest uint16.
func satAdd(a, b uint16) uint16 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint16(0)
}

// AlertLog remembers when each alert was last raised for the current
// certificate version; zero means never.
type AlertLog struct {
	Overdue  time.Time `json:"overdue,omitzero"`
	Expiring time.Time `json:"expiring,omitzero"`
	Expired  time.Time `json:"expired,omitzero"`
}

// utcDay returns midnight UTC of the day that contains t.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Lifetime returns NotAfter − NotBefore.
func (s State) Lifetime() time.Duration { return s.NotAfter.Sub(s.NotBefore) }

// Failed returns s with a failed attempt recorded: it ended at at, failed
// with class (unknown classes count as [Other]) and the CA asked to wait
// retryAfter (zero when it did not say). Nothing but [State.Last] and
// [State.Today] changes: a failed renewal leaves the certificate, its ARI
// window and its pick as they were.
func (s State) Failed(at time.Time, class ErrorClass, retryAfter time.Duration) State {
	class = class.Normalize()
	s.Last = Attempt{Time: at, Class: class, Failures: s.Last.Failures + 1, RetryAfter: max(retryAfter, 0)}
	if day := utcDay(at); !s.Today.Day.Equal(day) {
		s.Today = DailyCounts{Day: day}
	}
	i := class.index()
	s.Today.Counts[i] = satAdd(s.Today.Counts[i], 1)
	return s
}

// Renewed returns the State of the certificate version that replaced s's:
// validity notBefore–notAfter, renewed successfully at at. The settings
// (Enabled, Ratio, BeforeExpiry, ARI.Advertised) and the day's counts carry
// over; the ARI window, pick and poll time, the failure streak and the alert
// log start afresh, so the new certificate's ARI is polled at once.
func (s State) Renewed(notBefore, notAfter, at time.Time) State {
	return State{
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		Enabled:      s.Enabled,
		Ratio:        s.Ratio,
		BeforeExpiry: s.BeforeExpiry,
		ARI:          ARI{Advertised: s.ARI.Advertised},
		Last:         Attempt{Time: at},
		Today:        s.Today,
	}
}

// RenewalInfo is one answer of the ARI endpoint (GET renewalInfo/{CertID}).
type RenewalInfo struct {
	// Window is the suggestedWindow.
	Window Window
	// ExplanationURL is the optional explanationURL.
	ExplanationURL string
	// RetryAfter is the Retry-After header; zero when absent.
	RetryAfter time.Duration
}

// ErrInvalidWindow is returned by [State.ObserveARI] for a suggested window
// whose end is not after its start.
var ErrInvalidWindow = errors.New("schedule: ARI suggestedWindow end is not after its start")

// ObserveARI returns s updated with an ARI answer received at now:
//
//   - the next poll is now + clamp(RetryAfter or 6 h, 1 h, 24 h), or
//     now + lifetime/12 when that is sooner;
//   - an unchanged window keeps its pick, however often it is polled;
//   - a new or changed window gets ONE new uniform pick in [Start, End),
//     drawn from r (nil: the global source);
//   - a window that moved earlier and has already opened is picked at now,
//     so the certificate renews at once.
//
// An invalid window (End not after Start) leaves the window and pick as they
// were, still schedules the next poll, and returns an error wrapping
// [ErrInvalidWindow]. ObserveARI sets ARI.Advertised.
func (s State) ObserveARI(info RenewalInfo, now time.Time, r *rand.Rand) (State, error) {
	s.ARI.Advertised = true
	s.ARI.NextPoll = now.Add(pollInterval(info.RetryAfter, ARIPollDefault, s.Lifetime()))
	if !info.Window.Valid() {
		return s, fmt.Errorf("%w (start %s, end %s); keeping the previous window until the next poll at %s",
			ErrInvalidWindow, info.Window.Start.UTC().Format(time.RFC3339), info.Window.End.UTC().Format(time.RFC3339),
			s.ARI.NextPoll.UTC().Format(time.RFC3339))
	}
	s.ARI.ExplanationURL = info.ExplanationURL
	old := s.ARI.Window
	if info.Window.Equal(old) && !s.ARI.Pick.IsZero() {
		return s, nil
	}
	s.ARI.Window = info.Window
	if old.Valid() && info.Window.Start.Before(old.Start) && !now.Before(info.Window.Start) {
		s.ARI.Pick = now
	} else {
		s.ARI.Pick = info.Window.pick(r)
	}
	return s, nil
}

// ARIFailed returns s after a failed ARI poll at now: the window and pick
// stay, and the next poll is now + clamp(retryAfter or 1 h, 1 h, 24 h), or
// now + lifetime/12 when that is sooner.
func (s State) ARIFailed(now time.Time, retryAfter time.Duration) State {
	s.ARI.NextPoll = now.Add(pollInterval(retryAfter, ARIRetryDefault, s.Lifetime()))
	return s
}

// pollInterval returns clamp(retryAfter or dflt, ARIPollMin, ARIPollMax),
// shortened to lifetime/12 when that is positive and shorter.
func pollInterval(retryAfter, dflt, lifetime time.Duration) time.Duration {
	d := retryAfter
	if d <= 0 {
		d = dflt
	}
	d = min(max(d, ARIPollMin), ARIPollMax)
	if l := lifetime / 12; l > 0 && l < d {
		d = l
	}
	return d
}

// Backoff returns the wait after the given number of consecutive failures of
// a certificate with the given lifetime: 5 min, 10 min, 20 min, … doubling,
// capped at min(6 h, lifetime/24). It returns 0 for no failures.
func Backoff(failures int, lifetime time.Duration) time.Duration {
	if failures <= 0 {
		return 0
	}
	limit := BackoffMax
	if l := lifetime / 24; l > 0 && l < limit {
		limit = l
	}
	d := BackoffBase
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// RetryAt returns the earliest instant of the next automatic attempt after
// a failure, or the zero time when the last attempt did not fail. It is the
// end of the [Backoff], pushed back to the CA's Retry-After when that is
// later; after [HardAttemptsPerDay] hard-class failures in the UTC day of the
// last failure, and a last failure of a hard class, it is no earlier than the
// next UTC midnight.
func (s State) RetryAt() time.Time {
	if !s.Last.Failed() {
		return time.Time{}
	}
	delay := max(Backoff(s.Last.Failures, s.Lifetime()), s.Last.RetryAfter)
	at := s.Last.Time.Add(delay)
	if s.Last.Class.Hard() && s.Today.Day.Equal(utcDay(s.Last.Time)) && s.Today.hard() >= HardAttemptsPerDay {
		if next := s.Today.Day.AddDate(0, 0, 1); at.Before(next) {
			at = next
		}
	}
	return at
}
