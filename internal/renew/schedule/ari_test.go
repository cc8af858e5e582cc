package schedule

import (
	"errors"
	"testing"
	"time"
)

func window(from, to time.Duration) Window { return Window{Start: t0.Add(from), End: t0.Add(to)} }

func TestARIPickInsideWindowAndStable(t *testing.T) {
	r := seeded(11)
	s := cert(90 * day)
	s.ARI.Advertised = true
	w := window(60*day, 62*day)
	c := &clock{now: t0.Add(time.Hour)}

	// First decision: no window yet, so ARI is polled and the ratio applies.
	d := Decide(s, c.Now(), r)
	if !d.PollARI || d.Basis != BasisRatio {
		t.Fatalf("before the first poll: PollARI=%v Basis=%q, want a poll and the ratio", d.PollARI, d.Basis)
	}

	s, err := d.State.ObserveARI(RenewalInfo{Window: w, ExplanationURL: "https://ca.example/why"}, c.Now(), r)
	if err != nil {
		t.Fatal(err)
	}
	pick := s.ARI.Pick
	if pick.Before(w.Start) || !pick.Before(w.End) {
		t.Fatalf("pick %s outside [%s, %s)", pick, w.Start, w.End)
	}
	if s.ARI.ExplanationURL != "https://ca.example/why" {
		t.Errorf("ExplanationURL = %q", s.ARI.ExplanationURL)
	}

	// Poll the unchanged window whenever asked, with the tick running, until
	// the renewal is due: the pick never moves and the renewal happens at it.
	polls := 0
	for ; ; c.Advance(15 * time.Minute) {
		d := Decide(s, c.Now(), r)
		s = d.State
		if s.ARI.Pick != pick {
			t.Fatalf("Decide moved the pick from %s to %s", pick, s.ARI.Pick)
		}
		if d.PollARI {
			polls++
			if s, err = s.ObserveARI(RenewalInfo{Window: w}, c.Now(), r); err != nil {
				t.Fatal(err)
			}
			if s.ARI.Pick != pick {
				t.Fatalf("poll %d re-rolled the pick from %s to %s", polls, pick, s.ARI.Pick)
			}
			continue
		}
		if d.RenewNow {
			if d.Basis != BasisARI || !d.RenewAt.Equal(pick) {
				t.Fatalf("renewing on %q at %s, want ari at %s", d.Basis, d.RenewAt, pick)
			}
			if c.Now().Before(pick) || !c.Now().Before(pick.Add(15*time.Minute)) {
				t.Fatalf("renewal at %s, want the first tick after %s", c.Now(), pick)
			}
			break
		}
	}
	// 60 days of 6-hour polls.
	if polls < 200 {
		t.Errorf("only %d polls, want about 240", polls)
	}
}

func TestARIWindowChanges(t *testing.T) {
	r := seeded(5)
	base, err := cert(90*day).ObserveARI(RenewalInfo{Window: window(60*day, 62*day)}, t0.Add(day), r)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		now       time.Duration
		next      Window
		renewNow  bool
		pickAtNow bool
	}{
		{"moved later: new pick in the new window", 30 * day, window(70*day, 72*day), false, false},
		{"moved earlier, still future: new pick", 30 * day, window(40*day, 42*day), false, false},
		{"moved earlier and open: renew at once", 50 * day, window(49*day, 51*day), true, true},
		{"moved earlier, already closed: renew at once", 50 * day, window(20*day, 21*day), true, true},
		{"widened, same start, open: new pick", 60*day + time.Hour, window(60*day, 64*day), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0.Add(tt.now)
			s, err := base.ObserveARI(RenewalInfo{Window: tt.next}, now, r)
			if err != nil {
				t.Fatal(err)
			}
			if !s.ARI.Window.Equal(tt.next) {
				t.Fatalf("window not stored: %+v", s.ARI.Window)
			}
			if tt.pickAtNow {
				mustTime(t, "pick", s.ARI.Pick, now)
			} else if s.ARI.Pick.Before(tt.next.Start) || !s.ARI.Pick.Before(tt.next.End) {
				t.Fatalf("pick %s outside the new window", s.ARI.Pick)
			}
			d := Decide(s, now, r)
			if d.RenewNow != tt.renewNow {
				t.Errorf("RenewNow = %v, want %v (RenewAt %s, now %s)", d.RenewNow, tt.renewNow, d.RenewAt, now)
			}
			if d.RenewNow && d.PollARI {
				t.Error("PollARI while renewing")
			}
		})
	}
}

func TestARIFirstWindowInThePast(t *testing.T) {
	// A certificate adopted late: the first window seen has already closed.
	s, err := cert(90*day).ObserveARI(RenewalInfo{Window: window(60*day, 62*day)}, t0.Add(70*day), seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	if d := Decide(s, t0.Add(70*day), seeded(1)); !d.RenewNow || d.Basis != BasisARI {
		t.Errorf("RenewNow=%v Basis=%q, want an ARI renewal at once", d.RenewNow, d.Basis)
	}
}

func TestARIPickCappedAndIgnoredWhenNotAdvertised(t *testing.T) {
	r := seeded(2)
	// A 6-day certificate whose window lies after the 5/6 cap.
	s, err := cert(6*day).ObserveARI(RenewalInfo{Window: window(125*time.Hour, 130*time.Hour)}, t0, r)
	if err != nil {
		t.Fatal(err)
	}
	d := Decide(s, t0, r)
	mustTime(t, "RenewAt", d.RenewAt, t0.Add(120*time.Hour))
	if d.Basis != BasisCap {
		t.Errorf("Basis = %q, want cap", d.Basis)
	}
	// The directory stopped advertising renewalInfo: back to the ratio.
	s.ARI.Advertised = false
	d = Decide(s, t0, r)
	mustTime(t, "RenewAt", d.RenewAt, t0.Add(96*time.Hour))
	if d.PollARI || !d.PollARIAt.IsZero() {
		t.Errorf("PollARI=%v PollARIAt=%s without ARI", d.PollARI, d.PollARIAt)
	}
	// BeforeExpiry does not override an ARI pick.
	s, _ = cert(90*day).ObserveARI(RenewalInfo{Window: window(60*day, 62*day)}, t0, r)
	s.BeforeExpiry = 45 * day
	if d := Decide(s, t0, r); d.Basis != BasisARI || d.RenewAt.Before(t0.Add(60*day)) {
		t.Errorf("Basis=%q RenewAt=%s, want the ARI pick", d.Basis, d.RenewAt)
	}
}

func TestARIMissingPickFilledByDecide(t *testing.T) {
	s := cert(90 * day)
	s.ARI = ARI{Advertised: true, Window: window(60*day, 62*day), NextPoll: t0.Add(6 * time.Hour)}
	d := Decide(s, t0.Add(time.Hour), seeded(4))
	p := d.State.ARI.Pick
	if p.Before(s.ARI.Window.Start) || !p.Before(s.ARI.Window.End) {
		t.Fatalf("filled pick %s outside the window", p)
	}
	if d2 := Decide(d.State, t0.Add(2*time.Hour), seeded(99)); d2.State.ARI.Pick != p {
		t.Errorf("second Decide moved the pick from %s to %s", p, d2.State.ARI.Pick)
	}
	if d.PollARI || !d.PollARIAt.Equal(t0.Add(6*time.Hour)) {
		t.Errorf("PollARI=%v PollARIAt=%s before NextPoll", d.PollARI, d.PollARIAt)
	}
}

func TestARIPollInterval(t *testing.T) {
	tests := []struct {
		name       string
		lifetime   time.Duration
		retryAfter time.Duration
		failed     bool
		want       time.Duration
	}{
		{"no Retry-After: 6h", 90 * day, 0, false, 6 * time.Hour},
		{"Retry-After 3h", 90 * day, 3 * time.Hour, false, 3 * time.Hour},
		{"Retry-After 30m clamped to 1h", 90 * day, 30 * time.Minute, false, time.Hour},
		{"Retry-After 1s clamped to 1h", 90 * day, time.Second, false, time.Hour},
		{"Retry-After 48h clamped to 24h", 90 * day, 48 * time.Hour, false, 24 * time.Hour},
		{"negative Retry-After means absent", 90 * day, -time.Hour, false, 6 * time.Hour},
		{"6 days: lifetime/12 = 12h beats 24h", 6 * day, 48 * time.Hour, false, 12 * time.Hour},
		{"6 days: 6h default stays", 6 * day, 0, false, 6 * time.Hour},
		{"160h: lifetime/12", 160 * time.Hour, 20 * time.Hour, false, 160 * time.Hour / 12},
		{"1 day: lifetime/12 = 2h", day, 0, false, 2 * time.Hour},
		{"6 hours: lifetime/12 below the 1h clamp", 6 * time.Hour, 0, false, 30 * time.Minute},
		{"failed poll: 1h", 90 * day, 0, true, time.Hour},
		{"failed poll with Retry-After 5h", 90 * day, 5 * time.Hour, true, 5 * time.Hour},
		{"failed poll with Retry-After 2d", 90 * day, 48 * time.Hour, true, 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := t0.Add(time.Hour)
			s := cert(tt.lifetime)
			if tt.failed {
				s = s.ARIFailed(now, tt.retryAfter)
			} else {
				var err error
				if s, err = s.ObserveARI(RenewalInfo{Window: window(2*time.Hour, 3*time.Hour), RetryAfter: tt.retryAfter}, now, seeded(1)); err != nil {
					t.Fatal(err)
				}
			}
			mustTime(t, "NextPoll", s.ARI.NextPoll, now.Add(tt.want))
			if d := Decide(s, now.Add(tt.want-time.Nanosecond), nil); d.PollARI {
				t.Error("PollARI before NextPoll")
			}
		})
	}
}

func TestARIInvalidWindow(t *testing.T) {
	r := seeded(8)
	good := window(60*day, 62*day)
	s, _ := cert(90*day).ObserveARI(RenewalInfo{Window: good}, t0, r)
	pick := s.ARI.Pick
	now := t0.Add(day)
	for _, bad := range []Window{window(62*day, 60*day), window(61*day, 61*day), {}} {
		got, err := s.ObserveARI(RenewalInfo{Window: bad, RetryAfter: 2 * time.Hour}, now, r)
		if !errors.Is(err, ErrInvalidWindow) {
			t.Errorf("window %+v: err = %v, want ErrInvalidWindow", bad, err)
		}
		if !got.ARI.Window.Equal(good) || got.ARI.Pick != pick {
			t.Errorf("window %+v replaced the valid window or pick", bad)
		}
		mustTime(t, "NextPoll", got.ARI.NextPoll, now.Add(2*time.Hour))
	}
}

// TestARIPickUniform draws 10,000 picks (fixed seed) and checks that each
// quartile and each decile of the window holds its share within about five
// standard deviations, and that no pick falls outside [start, end).
func TestARIPickUniform(t *testing.T) {
	const n = 10000
	r := seeded(2026)
	w := window(60*day, 62*day+7*time.Hour)
	width := w.End.Sub(w.Start)
	var quart [4]int
	var dec [10]int
	var sum float64
	for i := 0; i < n; i++ {
		s, err := cert(90*day).ObserveARI(RenewalInfo{Window: w}, t0, r)
		if err != nil {
			t.Fatal(err)
		}
		off := s.ARI.Pick.Sub(w.Start)
		if off < 0 || off >= width {
			t.Fatalf("pick %s outside the window", s.ARI.Pick)
		}
		f := float64(off) / float64(width)
		quart[int(f*4)]++
		dec[int(f*10)]++
		sum += f
	}
	for i, c := range quart {
		if c < n/4-220 || c > n/4+220 {
			t.Errorf("quartile %d holds %d picks, want %d ± 220", i+1, c, n/4)
		}
	}
	for i, c := range dec {
		if c < n/10-150 || c > n/10+150 {
			t.Errorf("decile %d holds %d picks, want %d ± 150", i+1, c, n/10)
		}
	}
	if mean := sum / n; mean < 0.485 || mean > 0.515 {
		t.Errorf("mean position %.4f, want 0.5 ± 0.015", mean)
	}
}

// TestARIRerollWouldSkew shows why the pick is persisted: drawing afresh at
// every hourly check (as a scheduler calling lego's ShouldRenewAt would)
// renews nearly every certificate in the first half of the window, while the
// persisted pick spreads them evenly.
func TestARIRerollWouldSkew(t *testing.T) {
	const n = 2000
	r := seeded(9)
	w := window(60*day, 62*day)
	var persistedFirstHalf, rerolledFirstHalf int
	for i := 0; i < n; i++ {
		s, _ := cert(90*day).ObserveARI(RenewalInfo{Window: w}, t0, r)
		if s.ARI.Pick.Before(w.Start.Add(day)) {
			persistedFirstHalf++
		}
		// lego-style: every hour draw afresh and renew if the draw has passed.
		for now := w.Start; now.Before(w.End); now = now.Add(time.Hour) {
			if !w.pick(r).After(now) {
				if now.Before(w.Start.Add(day)) {
					rerolledFirstHalf++
				}
				break
			}
		}
	}
	if persistedFirstHalf < n*45/100 || persistedFirstHalf > n*55/100 {
		t.Errorf("persisted picks: %d of %d in the first half, want about half", persistedFirstHalf, n)
	}
	if rerolledFirstHalf < n*95/100 {
		t.Errorf("re-rolled picks: only %d of %d in the first half; the skew this package avoids did not show", rerolledFirstHalf, n)
	}
}
