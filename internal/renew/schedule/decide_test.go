package schedule

import (
	"testing"
	"time"
)

func TestRenewAtWithoutARI(t *testing.T) {
	tests := []struct {
		name         string
		lifetime     time.Duration
		ratio        float64
		beforeExpiry time.Duration
		want         time.Duration // after NotBefore
		basis        Basis
	}{
		{"90 days at 2/3", 90 * day, 0, 0, 60 * day, BasisRatio},
		{"47 days at 2/3", 47 * day, 0, 0, 752 * time.Hour, BasisRatio},
		{"45 days at 2/3", 45 * day, 0, 0, 30 * day, BasisRatio},
		{"6 days at 2/3", 6 * day, 0, 0, 96 * time.Hour, BasisRatio},
		{"160 hours at 2/3", 160 * time.Hour, 0, 0, 106*time.Hour + 40*time.Minute, BasisRatio},
		{"398 days at 2/3", 398 * day, 0, 0, 398 * day * 2 / 3, BasisRatio},
		{"ratio 1/2", 90 * day, 0.5, 0, 45 * day, BasisRatio},
		{"negative ratio means default", 90 * day, -1, 0, 60 * day, BasisRatio},
		{"ratio 0.9 hits the cap at 5/6", 90 * day, 0.9, 0, 75 * day, BasisCap},
		{"ratio above 1 hits the cap", 6 * day, 3, 0, 120 * time.Hour, BasisCap},
		{"beforeExpiry 45 days wins (the article's setting)", 90 * day, 0, 45 * day, 45 * day, BasisDays},
		{"beforeExpiry 30 days ties the ratio", 90 * day, 0, 30 * day, 60 * day, BasisRatio},
		{"beforeExpiry 10 days is later: ratio wins", 90 * day, 0, 10 * day, 60 * day, BasisRatio},
		{"beforeExpiry on 47 days", 47 * day, 0, 20 * day, 27 * day, BasisDays},
		{"beforeExpiry longer than the lifetime: at once", 6 * day, 0, 30 * day, -24 * day, BasisDays},
		{"beforeExpiry 1h on 6 days: ratio", 6 * day, 0, time.Hour, 96 * time.Hour, BasisRatio},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := cert(tt.lifetime)
			s.Ratio, s.BeforeExpiry = tt.ratio, tt.beforeExpiry
			at := t0.Add(tt.want)

			before := Decide(s, at.Add(-time.Nanosecond), seeded(1))
			mustTime(t, "RenewAt", before.RenewAt, at)
			if before.Basis != tt.basis {
				t.Errorf("Basis = %q, want %q", before.Basis, tt.basis)
			}
			if at.After(t0) && before.RenewNow {
				t.Errorf("RenewNow 1ns before %s", at)
			}
			if d := Decide(s, at, seeded(1)); !d.RenewNow {
				t.Errorf("not RenewNow at RenewAt %s", at)
			}
		})
	}
}

// TestTickLoop drives each lifetime with a 15-minute tick on a fake clock and
// checks that the first tick that renews is the first one at or after 2/3 of
// the lifetime, and that the jitter stays in bounds.
func TestTickLoop(t *testing.T) {
	const tick = 15 * time.Minute
	for _, lifetime := range []time.Duration{90 * day, 47 * day, 6 * day, 160 * time.Hour} {
		t.Run(lifetime.String(), func(t *testing.T) {
			s := cert(lifetime)
			due := t0.Add(lifetime - lifetime/3)
			r := seeded(7)
			c := &clock{now: t0}
			for ; c.Now().Before(s.NotAfter); c.Advance(tick) {
				d := Decide(s, c.Now(), r)
				s = d.State
				if !d.RenewNow {
					if d.Jitter != 0 {
						t.Fatalf("Jitter %s without RenewNow", d.Jitter)
					}
					continue
				}
				if c.Now().Before(due) || !c.Now().Before(due.Add(tick)) {
					t.Fatalf("first renewal at %s, want the first tick in [%s, %s)", c.Now(), due, due.Add(tick))
				}
				if d.Jitter < 0 || d.Jitter >= MaxJitter {
					t.Fatalf("Jitter = %s, want [0, %s)", d.Jitter, MaxJitter)
				}
				remaining := s.NotAfter.Sub(c.Now())
				if remaining < lifetime/3-tick {
					t.Fatalf("renewed with %s left, want about lifetime/3 = %s", remaining, lifetime/3)
				}
				return
			}
			t.Fatal("never renewed")
		})
	}
}

func TestJitterBounds(t *testing.T) {
	tests := []struct {
		lifetime time.Duration
		max      time.Duration
	}{
		{90 * day, 5 * time.Minute},
		{6 * day, 5 * time.Minute},
		{10 * time.Hour, 3 * time.Minute},
		{time.Hour, 18 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.lifetime.String(), func(t *testing.T) {
			s := cert(tt.lifetime)
			r := seeded(3)
			var hi time.Duration
			for i := 0; i < 2000; i++ {
				d := Decide(s, s.NotAfter.Add(-time.Nanosecond), r)
				if !d.RenewNow {
					t.Fatal("not due just before expiry")
				}
				if d.Jitter < 0 || d.Jitter >= tt.max {
					t.Fatalf("Jitter = %s, want [0, %s)", d.Jitter, tt.max)
				}
				hi = max(hi, d.Jitter)
			}
			if hi < tt.max*9/10 {
				t.Errorf("largest of 2000 jitters = %s, want close to %s", hi, tt.max)
			}
		})
	}
}

func TestDisabledAndInvalid(t *testing.T) {
	s := cert(90 * day)
	s.Enabled = false
	s = s.Failed(t0.Add(80*day), DNS, 0)
	d := Decide(s, s.NotAfter.Add(day), seeded(1))
	if d.RenewNow || d.PollARI || !d.RenewAt.IsZero() || d.Alerts != nil || d.State != s {
		t.Errorf("disabled certificate got %+v", d)
	}

	for name, s := range map[string]State{
		"never issued":         {Enabled: true},
		"notAfter = notBefore": {NotBefore: t0, NotAfter: t0, Enabled: true},
	} {
		d := Decide(s, t0.Add(-day), seeded(1))
		if !d.RenewNow || d.Basis != BasisInvalid {
			t.Errorf("%s: RenewNow=%v Basis=%q, want due at once with basis invalid", name, d.RenewNow, d.Basis)
		}
		if d.Jitter < 0 || d.Jitter >= MaxJitter {
			t.Errorf("%s: Jitter = %s", name, d.Jitter)
		}
	}
}

func TestZeroAllocationCommonPath(t *testing.T) {
	r := seeded(1)
	plain := cert(90 * day)
	ari, err := cert(90*day).ObserveARI(RenewalInfo{Window: Window{t0.Add(60 * day), t0.Add(62 * day)}}, t0.Add(day), r)
	if err != nil {
		t.Fatal(err)
	}
	due := cert(6 * day)
	now := t0.Add(10 * day)
	for name, s := range map[string]State{"ratio": plain, "ari": ari, "due": due} {
		if name == "due" {
			// Due but not alerting: just after the 2/3 point.
			now = t0.Add(97 * time.Hour)
		}
		if n := testing.AllocsPerRun(200, func() { _ = Decide(s, now, r) }); n != 0 {
			t.Errorf("%s: %v allocations per Decide, want 0", name, n)
		}
	}
}
