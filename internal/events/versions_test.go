package events

import (
	"slices"
	"testing"
)

func TestAccepts(t *testing.T) {
	tests := []struct {
		version string
		want    bool
	}{
		{"2020-07-01", true},
		{"2019-08-01", true},
		{"2019-04-01", true},
		{"2019-01-01", true},
		{"2017-11-01", true},
		{"2017-08-01", true},
		{"2017-03-01", true},
		{"", false},
		{"{latest}", false},
		{"latest", false},
		{"2021-01-01", false}, // a global IMDS version, not a scheduled-events one
		{"2019-06-01", false},
		{"2020-07-01 ", false},
	}
	for _, tt := range tests {
		if got := Accepts(tt.version); got != tt.want {
			t.Errorf("Accepts(%q) = %v, want %v", tt.version, got, tt.want)
		}
	}
}

// TestVersionTables keeps the gating tables consistent with Versions, so that a version
// added to one is not forgotten in the other.
func TestVersionTables(t *testing.T) {
	sorted := slices.Clone(Versions)
	slices.Sort(sorted)
	slices.Reverse(sorted)
	if !slices.Equal(sorted, Versions) || len(slices.Compact(sorted)) != len(Versions) {
		t.Errorf("Versions %v is not newest first without duplicates", Versions)
	}
	for _, v := range []string{descriptionSince, eventSourceSince, durationSince, underscoreUntil} {
		if !Accepts(v) {
			t.Errorf("gating version %s is not in Versions", v)
		}
	}
	for _, typ := range []EventType{Freeze, Reboot, Redeploy, Preempt, Terminate} {
		if v, ok := typeSince[typ]; !ok || !Accepts(v) {
			t.Errorf("typeSince[%s] = %q, want a version of Versions", typ, v)
		}
	}
}
