package imds

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter enforces Azure's per-VM limits (docs/imds.md §5.1): a token bucket for
// ordinary categories, and for identity a second bucket plus a cap on requests in
// flight. The key is the calling instance, so a VM with several addresses has one
// budget.
type limiter struct {
	cfg RateLimitConfig

	mu  sync.Mutex
	vms map[string]*vmLimits
}

type vmLimits struct {
	general  *rate.Limiter
	identity *rate.Limiter
	inFlight chan struct{}
}

// maxTrackedVMs bounds the limiter's memory; past it the table starts afresh, which at
// worst grants a VM one extra burst.
const maxTrackedVMs = 200_000

func newLimiter(cfg RateLimitConfig) *limiter {
	return &limiter{cfg: cfg, vms: make(map[string]*vmLimits)}
}

// admit reports whether the request may proceed; release must be called when it ends.
func (l *limiter) admit(vm string, identity bool, now time.Time) (release func(), ok bool) {
	l.mu.Lock()
	v := l.vms[vm]
	if v == nil {
		if len(l.vms) >= maxTrackedVMs {
			l.vms = make(map[string]*vmLimits)
		}
		v = &vmLimits{
			general:  rate.NewLimiter(rate.Limit(l.cfg.PerSecond), max(1, int(l.cfg.PerSecond))),
			identity: rate.NewLimiter(rate.Limit(l.cfg.IdentityPerSecond), max(1, int(l.cfg.IdentityPerSecond))),
			inFlight: make(chan struct{}, l.cfg.IdentityConcurrent),
		}
		l.vms[vm] = v
	}
	l.mu.Unlock()
	if !identity {
		return noop, v.general.AllowN(now, 1)
	}
	select {
	case v.inFlight <- struct{}{}:
	default:
		return noop, false
	}
	if !v.identity.AllowN(now, 1) {
		<-v.inFlight
		return noop, false
	}
	return func() { <-v.inFlight }, true
}

func noop() {}
