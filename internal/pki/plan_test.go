package pki

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestTimelineOrder(t *testing.T) {
	day := 24 * time.Hour
	p := testPlan("")
	p.Roots = []RootPlan{{}, {Introduce: testStart.Add(15 * day), CrossSign: true}}
	ev := p.Timeline(testStart)
	var got []string
	for i, e := range ev {
		if i > 0 && e.Time.Before(ev[i-1].Time) {
			t.Fatalf("event %d (%s) before event %d (%s)", i, e, i-1, ev[i-1])
		}
		if e.Time.Before(testStart.Add(61 * day)) {
			got = append(got, fmt.Sprintf("%d %s %s", int(e.Time.Sub(testStart)/day), e.Kind, e.CA))
		}
	}
	want := []string{
		"0 introduce root-ca-01",
		"0 introduce issuing-ca-01",
		"0 activate issuing-ca-01",
		"15 introduce root-ca-02",
		"15 cross-sign root-ca-02-xsign",
		"20 introduce issuing-ca-02",
		"30 activate issuing-ca-02",
		"30 retire issuing-ca-01",
		"50 introduce issuing-ca-03",
		"60 activate issuing-ca-03",
		"60 retire issuing-ca-02",
		"60 expire issuing-ca-01",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAuthorityTimelineShowsRotation(t *testing.T) {
	now := testStart.Add(5 * 24 * time.Hour)
	clk := &fakeClock{t: now}
	a := openTest(t, t.TempDir(), testMaster(t, 1), testPlan(""), clk)
	if _, err := a.Rotate(now); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range a.Timeline(now) {
		if e.Time.Equal(now) {
			seen = append(seen, string(e.Kind)+" "+e.CA+fmt.Sprint(e.Unplanned))
		}
	}
	want := "introduce issuing-ca-r01true,activate issuing-ca-r01true,retire issuing-ca-01false"
	if strings.Join(seen, ",") != want {
		t.Errorf("events at the rotation: %v, want %s", seen, want)
	}
}

func TestPlanValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*Plan)
		errHas string // empty: valid
	}{
		{"defaults", func(*Plan) {}, ""},
		{"custom domain", func(p *Plan) { p.Profile, p.Domain = ProfileCustom, "metadata.cloud.example" }, ""},
		{"unknown profile", func(p *Plan) { p.Profile = "aws" }, "profile"},
		{"custom without domain", func(p *Plan) { p.Profile = ProfileCustom }, "domain"},
		{"domain on a cloud profile", func(p *Plan) { p.Domain = "x.example" }, "profile: custom"},
		{"bad region", func(p *Plan) { p.Region = "East US" }, "region"},
		{"https AIA", func(p *Plan) { p.AIABaseURL = "https://ca.example/pki" }, "aia_base_url"},
		{"Sub CA too short for the cadence", func(p *Plan) { p.SubCAValidity = 100 * 24 * time.Hour }, "sub_ca_validity"},
		{"weak CA key", func(p *Plan) { p.CAKeyAlgorithm = KeyRSA2048 }, "ca_key_algorithm"},
		{"second root without a date", func(p *Plan) { p.Roots = []RootPlan{{}, {CrossSign: true}} }, "roots[1].introduce"},
		{"generations out of order", func(p *Plan) {
			p.Generations = []Generation{{Activate: testStart.Add(time.Hour)}, {Activate: testStart}}
		}, "generations[1].activate"},
		{"renew before longer than life", func(p *Plan) { p.LeafRenewBefore = 100 * time.Hour }, "leaf_renew_before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Plan{}
			tc.edit(&p)
			err := p.WithDefaults().Validate()
			if tc.errHas == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidPlan) || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err = %v, want ErrInvalidPlan mentioning %q", err, tc.errHas)
			}
		})
	}
}

func TestExplicitGenerations(t *testing.T) {
	day := 24 * time.Hour
	p := testPlan("")
	p.Generations = []Generation{
		{Activate: testStart},
		{Introduce: testStart.Add(5 * day), Activate: testStart.Add(10 * day), Retire: testStart.Add(20 * day)},
	}
	for _, tc := range []struct {
		at      time.Time
		wantCA  string
		wantErr error
	}{
		{testStart.Add(time.Hour), "tegata Issuing CA 01", nil},
		{testStart.Add(11 * day), "tegata Issuing CA 02", nil},
		{testStart.Add(21 * day), "", ErrNoActiveCA},
	} {
		clk := &fakeClock{t: tc.at}
		a := openTest(t, t.TempDir(), testMaster(t, 1), p, clk)
		_, leaf, _, err := a.Signer(tc.at)
		if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
			t.Fatalf("at %s: err = %v, want %v", tc.at, err, tc.wantErr)
		}
		if err == nil && leaf.Issuer.CommonName != tc.wantCA {
			t.Errorf("at %s: issuer %q, want %q", tc.at, leaf.Issuer.CommonName, tc.wantCA)
		}
	}
}
