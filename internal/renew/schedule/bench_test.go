package schedule

import (
	"testing"
	"time"
)

// benchStates returns n states as a renewal service would hold them: three
// lifetimes, issued up to 70% of their lifetime ago (a few are due), 60% with
// an ARI window, 2% failing.
func benchStates(n int, now time.Time) []State {
	r := seeded(42)
	lifetimes := []time.Duration{90 * day, 47 * day, 6 * day}
	states := make([]State, n)
	for i := range states {
		lt := lifetimes[i%len(lifetimes)]
		nb := now.Add(-time.Duration(r.Int64N(int64(lt * 7 / 10))))
		s := State{NotBefore: nb, NotAfter: nb.Add(lt), Enabled: true}
		if i%5 < 3 {
			start := nb.Add(lt * 6 / 10)
			var err error
			s, err = s.ObserveARI(RenewalInfo{Window: Window{start, start.Add(lt / 45)}}, nb, r)
			if err != nil {
				panic(err)
			}
			s.ARI.NextPoll = now.Add(time.Duration(r.Int64N(int64(6 * time.Hour))))
		}
		if i%50 == 0 {
			s = s.Failed(now.Add(-time.Minute), DNS, 0)
		}
		states[i] = s
	}
	return states
}

// BenchmarkDecidePass measures one decision pass over 100,000 certificates,
// the work of one scheduler tick. The target is well under 2 s per pass.
func BenchmarkDecidePass(b *testing.B) {
	const n = 100_000
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	states := benchStates(n, now)
	r := seeded(1)
	p := DefaultPolicy()
	b.ReportAllocs()
	b.ResetTimer()
	due := 0
	for b.Loop() {
		due = 0
		for i := range states {
			d := p.Decide(states[i], now, r)
			states[i] = d.State
			if d.RenewNow {
				due++
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/cert")
	b.ReportMetric(float64(due), "due/pass")
}
