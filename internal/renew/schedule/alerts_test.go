package schedule

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAlerts(t *testing.T) {
	none := []Alert(nil)
	tests := []struct {
		name     string
		lifetime time.Duration
		policy   Policy
		failing  bool
		at       time.Duration // after NotBefore
		want     []Alert
	}{
		{"90d healthy at day 61", 90 * day, Policy{}, false, 61 * day, none},
		{"90d failing with 31 days left", 90 * day, Policy{}, true, 59 * day, none},
		{"90d failing with 29 days left: overdue", 90 * day, Policy{}, true, 61 * day, []Alert{AlertOverdue}},
		{"90d healthy with 16 days left", 90 * day, Policy{}, false, 74 * day, none},
		{"90d with 14 days left: expiring", 90 * day, Policy{}, false, 76 * day, []Alert{AlertExpiring}},
		{"90d failing with 14 days left: both", 90 * day, Policy{}, true, 76 * day, []Alert{AlertOverdue, AlertExpiring}},
		{"90d at expiry: expired only", 90 * day, Policy{}, true, 90 * day, []Alert{AlertExpired}},
		{"6d failing with 47h left: overdue", 6 * day, Policy{}, true, 97 * time.Hour, []Alert{AlertOverdue}},
		{"6d with 23h left: expiring", 6 * day, Policy{}, false, 121 * time.Hour, []Alert{AlertExpiring}},
		{"6d failing with 84h left, no floor", 6 * day, Policy{}, true, 60 * time.Hour, none},
		{"6d failing with 84h left, overdue floor 4d", 6 * day, Policy{OverdueFloor: 4 * day}, true, 60 * time.Hour, []Alert{AlertOverdue}},
		{"6d healthy with 84h left, overdue floor 4d", 6 * day, Policy{OverdueFloor: 4 * day}, false, 60 * time.Hour, none},
		{"6d failing with 64h left, expiring floor 72h", 6 * day, Policy{ExpiringFloor: 72 * time.Hour}, true, 80 * time.Hour, []Alert{AlertExpiring}},
		{"6d healthy with 64h left, expiring floor 72h", 6 * day, Policy{ExpiringFloor: 72 * time.Hour}, false, 80 * time.Hour, none},
		{"398d with 60 days left: expiring", 398 * day, Policy{}, false, 338 * day, []Alert{AlertExpiring}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := cert(tt.lifetime)
			now := t0.Add(tt.at)
			if tt.failing {
				s = s.Failed(now.Add(-time.Minute), DNS, 0)
			}
			d := tt.policy.Decide(s, now, seeded(1))
			if !slices.Equal(d.Alerts, tt.want) {
				t.Errorf("Alerts = %v, want %v", d.Alerts, tt.want)
			}
			for _, a := range d.Alerts {
				if got := alertTime(d.State.Alerted, a); !got.Equal(now) {
					t.Errorf("%s recorded at %s, want %s", a, got, now)
				}
			}
		})
	}
}

func alertTime(l AlertLog, a Alert) time.Time {
	switch a {
	case AlertOverdue:
		return l.Overdue
	case AlertExpiring:
		return l.Expiring
	}
	return l.Expired
}

// TestAlertRepeat walks a failing 90-day certificate hourly to its expiry and
// past it, and checks when each alert fires under the default policy (daily
// repeats) and with repeats off.
func TestAlertRepeat(t *testing.T) {
	for _, tt := range []struct {
		name                       string
		policy                     Policy
		overdue, expiring, expired int
	}{
		{"daily", DefaultPolicy(), 30, 15, 3},
		{"once", Policy{}, 1, 1, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := cert(90*day).Failed(t0.Add(60*day), Unauthorized, 0)
			got := map[Alert][]time.Time{}
			c := &clock{now: t0.Add(50 * day)}
			for ; c.Now().Before(t0.Add(93 * day)); c.Advance(time.Hour) {
				d := tt.policy.Decide(s, c.Now(), seeded(1))
				s = d.State
				for _, a := range d.Alerts {
					got[a] = append(got[a], c.Now())
				}
			}
			mustTime(t, "first overdue", got[AlertOverdue][0], t0.Add(60*day+time.Hour))
			mustTime(t, "first expiring", got[AlertExpiring][0], t0.Add(75*day+time.Hour))
			mustTime(t, "first expired", got[AlertExpired][0], t0.Add(90*day))
			for a, want := range map[Alert]int{AlertOverdue: tt.overdue, AlertExpiring: tt.expiring, AlertExpired: tt.expired} {
				if len(got[a]) != want {
					t.Errorf("%s raised %d times, want %d", a, len(got[a]), want)
				}
				for i := 1; i < len(got[a]); i++ {
					if gap := got[a][i].Sub(got[a][i-1]); gap != 24*time.Hour {
						t.Errorf("%s repeated after %s, want 24h", a, gap)
					}
				}
			}
		})
	}
}

func TestStateJSONRoundTrip(t *testing.T) {
	s, err := cert(47*day).ObserveARI(RenewalInfo{Window: window(30*day, 32*day), ExplanationURL: "https://ca.example/x", RetryAfter: 3 * time.Hour}, t0, seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	s.Ratio, s.BeforeExpiry = 0.7, 5*day
	s = s.Failed(t0.Add(31*day), RateLimited, time.Hour).Failed(t0.Add(31*day+time.Hour), DNS, 0).Failed(t0.Add(31*day+2*time.Hour), DNS, 0)
	s.Alerted.Overdue = t0.Add(32 * day)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"counts":{"dns":2,"rateLimited":1}`, `"class":"dns"`, `"overdue":"2026-04-17T09:30:00Z"`, `"explanationURL":"https://ca.example/x"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), `"expired"`) {
		t.Errorf("zero alert times should be omitted:\n%s", b)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != s {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, s)
	}
	var dc DailyCounts
	if err := json.Unmarshal([]byte(`{"day":"2026-01-02T00:00:00Z","counts":{"caa":2,"future":3,"other":65535}}`), &dc); err != nil {
		t.Fatal(err)
	}
	if dc.Of(CAA) != 2 || dc.Of(Other) != 65535 {
		t.Errorf("unknown classes must add to other, saturating: %+v", dc)
	}
	if err := json.Unmarshal([]byte(`{"day":1}`), &dc); err == nil {
		t.Error("bad JSON accepted")
	}
}
