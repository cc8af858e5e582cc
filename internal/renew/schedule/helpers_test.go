package schedule

import (
	"math/rand/v2"
	"testing"
	"time"
)

const day = 24 * time.Hour

// t0 is the issue instant of the test certificates.
var t0 = time.Date(2026, 3, 16, 9, 30, 0, 0, time.UTC)

// cert returns an enabled State for a certificate valid from t0 for lifetime.
func cert(lifetime time.Duration) State {
	return State{NotBefore: t0, NotAfter: t0.Add(lifetime), Enabled: true}
}

// seeded returns a deterministic random source.
func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// clock is a fake clock that tests advance by hand.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// mustTime fails the test when got is not want.
func mustTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s (off by %s)", what, got.UTC().Format(time.RFC3339Nano), want.UTC().Format(time.RFC3339Nano), got.Sub(want))
	}
}
