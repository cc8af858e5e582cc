package schedule

import (
	"context"
	"sync"
)

// Default concurrency limits of a [Limiter].
const (
	DefaultPerAccount            = 4
	DefaultPerProvider           = 2
	DefaultPerSequentialProvider = 1
)

// Limits bounds how many renewal attempts run at the same time. Zero or
// negative fields take their defaults.
type Limits struct {
	// PerAccount bounds attempts per ACME account (default 4).
	PerAccount int
	// PerProvider bounds attempts per DNS provider instance (default 2).
	PerProvider int
	// PerSequentialProvider bounds attempts per DNS provider instance that
	// must be used sequentially, like lego's Sequential() providers (default 1).
	PerSequentialProvider int
}

// Slot names what one renewal attempt uses.
type Slot struct {
	// Account identifies the ACME account; empty means no account limit.
	Account string
	// Provider identifies the DNS provider instance; empty means none.
	Provider string
	// Sequential marks a provider that must be used by one attempt at a time.
	// Every Slot naming the same Provider should agree on it.
	Sequential bool
}

// Limiter bounds concurrent renewal attempts per ACME account and per DNS
// provider instance. An attempt takes its account and provider slots
// together, so it never holds one while waiting for the other.
//
// Waiters are served in arrival order per resource: a waiter is never
// overtaken by a later one that needs its account or its provider, so none
// starves; a later waiter that shares neither may go first.
//
// The zero Limiter is not usable; call [NewLimiter]. A Limiter is safe for
// concurrent use.
type Limiter struct {
	limits Limits

	mu        sync.Mutex
	accounts  map[string]int
	providers map[string]int
	queue     []*waiter
}

// waiter is one blocked Acquire.
type waiter struct {
	slot    Slot
	ready   chan struct{} // closed when granted
	granted bool
}

// NewLimiter returns a Limiter enforcing l.
func NewLimiter(l Limits) *Limiter {
	if l.PerAccount <= 0 {
		l.PerAccount = DefaultPerAccount
	}
	if l.PerProvider <= 0 {
		l.PerProvider = DefaultPerProvider
	}
	if l.PerSequentialProvider <= 0 {
		l.PerSequentialProvider = DefaultPerSequentialProvider
	}
	return &Limiter{limits: l, accounts: make(map[string]int), providers: make(map[string]int)}
}

// Limits returns the limits in force, defaults filled in.
func (l *Limiter) Limits() Limits { return l.limits }

// Acquire waits until s's account and provider both have a free slot, takes
// them, and returns the function that gives them back (calling it more than
// once is harmless). It returns ctx's error, holding nothing, when ctx ends
// first.
func (l *Limiter) Acquire(ctx context.Context, s Slot) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	if !conflicts(l.queue, s) && l.fits(s) {
		l.take(s)
		l.mu.Unlock()
		return l.releaser(s), nil
	}
	w := &waiter{slot: s, ready: make(chan struct{})}
	l.queue = append(l.queue, w)
	l.mu.Unlock()

	select {
	case <-w.ready:
		return l.releaser(s), nil
	case <-ctx.Done():
		l.mu.Lock()
		if w.granted {
			l.give(s)
		} else {
			l.remove(w)
		}
		l.grant()
		l.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Waiting returns how many Acquire calls are blocked.
func (l *Limiter) Waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}

// releaser returns the idempotent release function of a granted s.
func (l *Limiter) releaser(s Slot) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.give(s)
			l.grant()
			l.mu.Unlock()
		})
	}
}

// providerLimit returns the provider bound that applies to s.
func (l *Limiter) providerLimit(s Slot) int {
	if s.Sequential {
		return l.limits.PerSequentialProvider
	}
	return l.limits.PerProvider
}

// fits reports whether s's slots are free. l.mu is held.
func (l *Limiter) fits(s Slot) bool {
	if s.Account != "" && l.accounts[s.Account] >= l.limits.PerAccount {
		return false
	}
	if s.Provider != "" && l.providers[s.Provider] >= l.providerLimit(s) {
		return false
	}
	return true
}

// take occupies s's slots. l.mu is held.
func (l *Limiter) take(s Slot) {
	if s.Account != "" {
		l.accounts[s.Account]++
	}
	if s.Provider != "" {
		l.providers[s.Provider]++
	}
}

// give frees s's slots. l.mu is held.
func (l *Limiter) give(s Slot) {
	if s.Account != "" {
		if l.accounts[s.Account]--; l.accounts[s.Account] <= 0 {
			delete(l.accounts, s.Account)
		}
	}
	if s.Provider != "" {
		if l.providers[s.Provider]--; l.providers[s.Provider] <= 0 {
			delete(l.providers, s.Provider)
		}
	}
}

// shares reports whether a and b compete for an account or a provider.
func shares(a, b Slot) bool {
	return (a.Account != "" && a.Account == b.Account) || (a.Provider != "" && a.Provider == b.Provider)
}

// remove drops w from the queue. l.mu is held.
func (l *Limiter) remove(w *waiter) {
	for i, q := range l.queue {
		if q == w {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			return
		}
	}
}

// grant wakes, in queue order, every waiter whose slots are free and that no
// earlier waiter competes with. l.mu is held.
func (l *Limiter) grant() {
	kept := l.queue[:0]
	for _, w := range l.queue {
		if !conflicts(kept, w.slot) && l.fits(w.slot) {
			l.take(w.slot)
			w.granted = true
			close(w.ready)
			continue
		}
		kept = append(kept, w)
	}
	clear(l.queue[len(kept):])
	l.queue = kept
}

// conflicts reports whether a waiter in ws competes with s.
func conflicts(ws []*waiter, s Slot) bool {
	for _, w := range ws {
		if shares(w.slot, s) {
			return true
		}
	}
	return false
}
