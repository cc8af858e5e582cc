package schedule

import (
	"testing"
	"time"
)

func TestBackoffSequence(t *testing.T) {
	m := time.Minute
	tests := []struct {
		lifetime time.Duration
		want     []time.Duration // after 1, 2, 3, … failures
	}{
		{90 * day, []time.Duration{5 * m, 10 * m, 20 * m, 40 * m, 80 * m, 160 * m, 320 * m, 6 * time.Hour, 6 * time.Hour}},
		{47 * day, []time.Duration{5 * m, 10 * m, 20 * m, 40 * m, 80 * m, 160 * m, 320 * m, 6 * time.Hour}},
		{160 * time.Hour, []time.Duration{5 * m, 10 * m, 20 * m, 40 * m, 80 * m, 160 * m, 320 * m, 6 * time.Hour}},
		{6 * day, []time.Duration{5 * m, 10 * m, 20 * m, 40 * m, 80 * m, 160 * m, 320 * m, 6 * time.Hour}},
		{5 * day, []time.Duration{5 * m, 10 * m, 20 * m, 40 * m, 80 * m, 160 * m, 5 * time.Hour, 5 * time.Hour}},
		{day, []time.Duration{5 * m, 10 * m, 20 * m, 40 * m, 60 * m, 60 * m}},
		{time.Hour, []time.Duration{150 * time.Second, 150 * time.Second}},
		{0, []time.Duration{5 * m, 10 * m, 20 * m, 40 * m, 80 * m, 160 * m, 320 * m, 6 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.lifetime.String(), func(t *testing.T) {
			for i, want := range tt.want {
				if got := Backoff(i+1, tt.lifetime); got != want {
					t.Errorf("Backoff(%d) = %s, want %s", i+1, got, want)
				}
			}
			if got := Backoff(0, tt.lifetime); got != 0 {
				t.Errorf("Backoff(0) = %s, want 0", got)
			}
			if got, want := Backoff(1<<30, tt.lifetime), tt.want[len(tt.want)-1]; got != want {
				t.Errorf("Backoff(huge) = %s, want the cap %s", got, want)
			}
		})
	}
}

func TestRetryAtByClass(t *testing.T) {
	at := time.Date(2026, 5, 20, 10, 0, 0, 0, time.UTC)
	midnight := time.Date(2026, 5, 21, 0, 0, 0, 0, time.UTC)
	type fail struct {
		after      time.Duration // after `at`
		class      ErrorClass
		retryAfter time.Duration
	}
	tests := []struct {
		name  string
		fails []fail
		want  time.Time
	}{
		{"dns once", []fail{{0, DNS, 0}}, at.Add(5 * time.Minute)},
		{"dns three times", []fail{{0, DNS, 0}, {0, DNS, 0}, {0, DNS, 0}}, at.Add(20 * time.Minute)},
		{"rate limited honours Retry-After", []fail{{0, RateLimited, 3 * time.Hour}}, at.Add(3 * time.Hour)},
		{"rate limited Retry-After beyond the 6h cap", []fail{{0, RateLimited, 30 * time.Hour}}, at.Add(30 * time.Hour)},
		{"rate limited short Retry-After: backoff wins", []fail{{0, DNS, 0}, {0, DNS, 0}, {0, RateLimited, time.Minute}}, at.Add(20 * time.Minute)},
		{"rate limited without Retry-After", []fail{{0, RateLimited, 0}}, at.Add(5 * time.Minute)},
		{"CA unavailable with Retry-After", []fail{{0, CAUnavailable, 2 * time.Hour}}, at.Add(2 * time.Hour)},
		{"vault", []fail{{0, Vault, 0}, {0, Vault, 0}}, at.Add(10 * time.Minute)},
		{"unknown class counts as other", []fail{{0, "weird", 0}}, at.Add(5 * time.Minute)},
		{"unauthorized twice: backoff", []fail{{0, Unauthorized, 0}, {5 * time.Minute, Unauthorized, 0}}, at.Add(15 * time.Minute)},
		{"unauthorized three times: next UTC day", []fail{{0, Unauthorized, 0}, {5 * time.Minute, Unauthorized, 0}, {15 * time.Minute, Unauthorized, 0}}, midnight},
		{"three different hard classes: next UTC day", []fail{{0, CAA, 0}, {time.Hour, Malformed, 0}, {2 * time.Hour, RejectedIdentifier, 0}}, midnight},
		{"hard limit then a soft failure: backoff again", []fail{{0, CAA, 0}, {time.Hour, CAA, 0}, {2 * time.Hour, CAA, 0}, {3 * time.Hour, DNS, 0}}, at.Add(3*time.Hour + 40*time.Minute)},
		{"hard failures across midnight do not add up", []fail{{13 * time.Hour, Unauthorized, 0}, {13*time.Hour + 30*time.Minute, Unauthorized, 0}, {14*time.Hour + 30*time.Minute, Unauthorized, 0}}, at.Add(14*time.Hour + 50*time.Minute)},
		{"hard limit, backoff already past midnight", []fail{{0, DNS, 0}, {0, DNS, 0}, {0, DNS, 0}, {0, DNS, 0}, {0, DNS, 0}, {0, DNS, 0}, {0, DNS, 0}, {13 * time.Hour, Malformed, 0}, {13*time.Hour + 10*time.Minute, Malformed, 0}, {13*time.Hour + 40*time.Minute, Malformed, 0}},
			at.Add(13*time.Hour + 40*time.Minute + 6*time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := cert(90 * day)
			for _, f := range tt.fails {
				s = s.Failed(at.Add(f.after), f.class, f.retryAfter)
			}
			mustTime(t, "RetryAt", s.RetryAt(), tt.want)
			// Long due (same 90-day lifetime): only the backoff decides.
			s.NotBefore, s.NotAfter = at.Add(-80*day), at.Add(10*day)
			last := s.Last.Time
			if d := Decide(s, tt.want.Add(-time.Nanosecond), seeded(1)); d.RenewNow {
				t.Errorf("RenewNow before RetryAt (last failure %s)", last)
			}
			if d := Decide(s, tt.want, seeded(1)); !d.RenewNow {
				t.Errorf("not RenewNow at RetryAt")
			}
		})
	}
}

// TestFailureLoops runs a certificate that always fails on a one-minute tick
// for three days and checks the attempt budgets: hard classes at most three a
// UTC day, DNS failures at most four in any hour (Let's Encrypt allows five
// failed authorizations per identifier and hour).
func TestFailureLoops(t *testing.T) {
	for _, class := range []ErrorClass{Unauthorized, DNS, CAUnavailable} {
		t.Run(string(class), func(t *testing.T) {
			s := cert(90 * day)
			c := &clock{now: t0.Add(60 * day)}
			end := c.Now().Add(3 * day)
			var attempts []time.Time
			r := seeded(1)
			for ; c.Now().Before(end); c.Advance(time.Minute) {
				d := Decide(s, c.Now(), r)
				s = d.State
				if d.RenewNow {
					attempts = append(attempts, c.Now())
					s = s.Failed(c.Now(), class, 0)
				}
			}
			perDay := map[time.Time]int{}
			for i, a := range attempts {
				perDay[utcDay(a)]++
				n := 0
				for _, b := range attempts[i:] {
					if b.Sub(a) < time.Hour {
						n++
					}
				}
				if n > 4 {
					t.Fatalf("%d attempts within the hour after %s", n, a)
				}
			}
			for d, n := range perDay {
				if class.Hard() && n > HardAttemptsPerDay {
					t.Errorf("%d attempts on %s, want at most %d", n, d.Format(time.DateOnly), HardAttemptsPerDay)
				}
			}
			if class.Hard() {
				if len(perDay) < 3 {
					t.Errorf("attempts on %d days, want every day", len(perDay))
				}
			} else if len(attempts) < 12 {
				// 6-hour cap: 3 days give at least a dozen attempts.
				t.Errorf("%d attempts in 3 days, want at least 12", len(attempts))
			}
		})
	}
}

func TestFailedTouchesOnlyBookkeeping(t *testing.T) {
	s, err := cert(90*day).ObserveARI(RenewalInfo{Window: window(60*day, 62*day), ExplanationURL: "https://x"}, t0, seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	s.Ratio, s.BeforeExpiry = 0.5, 10*day
	s.Alerted.Overdue = t0.Add(day)
	f := s.Failed(t0.Add(61*day), CAA, time.Hour)
	if f.Last.Failures != 1 || f.Last.Class != CAA || f.Last.RetryAfter != time.Hour || !f.Last.Time.Equal(t0.Add(61*day)) {
		t.Errorf("Last = %+v", f.Last)
	}
	if f.Today.Of(CAA) != 1 || !f.Today.Day.Equal(utcDay(t0.Add(61*day))) {
		t.Errorf("Today = %+v", f.Today)
	}
	f.Last, f.Today = s.Last, s.Today
	if f != s {
		t.Errorf("Failed changed more than the bookkeeping:\n got %+v\nwant %+v", f, s)
	}
	// A negative Retry-After is ignored.
	if g := s.Failed(t0, DNS, -time.Hour); g.Last.RetryAfter != 0 {
		t.Errorf("RetryAfter = %s, want 0", g.Last.RetryAfter)
	}
}

func TestRenewedStartsAfresh(t *testing.T) {
	s, _ := cert(90*day).ObserveARI(RenewalInfo{Window: window(60*day, 62*day)}, t0, seeded(1))
	s.Ratio, s.BeforeExpiry = 0.6, 20*day
	s = s.Failed(t0.Add(60*day), DNS, 0)
	s = s.Failed(t0.Add(60*day+time.Hour), Unauthorized, 0)
	s.Alerted.Overdue = t0.Add(61 * day)
	at := t0.Add(61 * day)
	n := s.Renewed(at, at.Add(90*day), at)
	want := State{
		NotBefore: at, NotAfter: at.Add(90 * day), Enabled: true, Ratio: 0.6, BeforeExpiry: 20 * day,
		ARI:   ARI{Advertised: true},
		Last:  Attempt{Time: at},
		Today: s.Today,
	}
	if n != want {
		t.Errorf("Renewed:\n got %+v\nwant %+v", n, want)
	}
	if d := Decide(n, at, seeded(1)); !d.PollARI || d.RenewNow || !d.RetryAt.IsZero() {
		t.Errorf("after renewal: PollARI=%v RenewNow=%v RetryAt=%s", d.PollARI, d.RenewNow, d.RetryAt)
	}
}

func TestErrorClasses(t *testing.T) {
	hard := map[ErrorClass]bool{Unauthorized: true, CAA: true, RejectedIdentifier: true, Malformed: true}
	seen := map[int]bool{}
	for i, c := range Classes {
		if c.index() != i || seen[i] {
			t.Errorf("%q has index %d, want %d", c, c.index(), i)
		}
		seen[i] = true
		if !c.Known() || c.Normalize() != c || c.Hard() != hard[c] {
			t.Errorf("%q: Known=%v Normalize=%q Hard=%v", c, c.Known(), c.Normalize(), c.Hard())
		}
	}
	if ErrorClass("urn:ietf:params:acme:error:dns").Known() || ErrorClass("").Normalize() != Other {
		t.Error("unknown classes must normalize to other")
	}
}
