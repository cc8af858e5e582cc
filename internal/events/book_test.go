package events

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestBook(t *testing.T, timing Timing) (*Book, *fakeClock) {
	t.Helper()
	clk := newFakeClock(t0)
	b, err := NewBook("vm0", clk.Now, timing)
	if err != nil {
		t.Fatal(err)
	}
	return b, clk
}

// state is what a test expects of a book with at most one event.
type state struct {
	incarnation int
	status      Status // "" for no event
}

func checkState(t *testing.T, b *Book, when string, want state) {
	t.Helper()
	evs := b.Events()
	got := state{incarnation: b.Incarnation()}
	if len(evs) > 1 {
		t.Fatalf("%s: %d events, want at most 1", when, len(evs))
	}
	if len(evs) == 1 {
		got.status = evs[0].Status
	}
	if got != want {
		t.Errorf("%s: got %+v, want %+v", when, got, want)
	}
}

func TestLifecycle(t *testing.T) {
	for _, preset := range []struct {
		name   string
		timing Timing
	}{{"Realistic", Realistic()}, {"Fast", Fast()}} {
		for _, typ := range []EventType{Freeze, Reboot, Redeploy, Preempt, Terminate} {
			t.Run(preset.name+"/"+string(typ), func(t *testing.T) {
				b, clk := newTestBook(t, preset.timing)
				checkState(t, b, "new book", state{1, ""})

				e, err := b.Add(Spec{Type: typ})
				if err != nil {
					t.Fatal(err)
				}
				phase := preset.timing.Phase(typ)
				if want := ceilSecond(t0.Add(phase.Notice)); !e.NotBefore.Equal(want) {
					t.Errorf("NotBefore = %v, want %v (the type's notice, rounded up to a second)", e.NotBefore, want)
				}
				checkState(t, b, "added", state{2, Scheduled})

				clk.Set(e.NotBefore.Add(-time.Nanosecond))
				checkState(t, b, "just before NotBefore", state{2, Scheduled})

				clk.Set(e.NotBefore)
				checkState(t, b, "at NotBefore", state{3, Started})
				if got := b.Events()[0]; !got.StartedAt.Equal(e.NotBefore) {
					t.Errorf("StartedAt = %v, want NotBefore %v", got.StartedAt, e.NotBefore)
				}
				if doc := string(b.Document("2020-07-01")); !strings.Contains(doc, `"NotBefore":""`) {
					t.Errorf("Started document %s: NotBefore is not empty", doc)
				}

				end := e.NotBefore.Add(phase.Impact + preset.timing.Linger)
				clk.Set(end.Add(-time.Nanosecond))
				checkState(t, b, "just before removal", state{3, Started})

				clk.Set(end)
				checkState(t, b, "at removal", state{4, ""})
				if got, want := string(b.Document("2020-07-01")), `{"DocumentIncarnation":4,"Events":[]}`; got != want {
					t.Errorf("after removal: %s, want %s", got, want)
				}

				clk.Advance(24 * time.Hour)
				checkState(t, b, "a day later", state{4, ""})
			})
		}
	}
}

// TestLifecycleUnobserved checks that the incarnation counts transitions, not reads: a
// book nobody reads while its event starts and ends reports both changes.
func TestLifecycleUnobserved(t *testing.T) {
	b, clk := newTestBook(t, Realistic())
	if _, err := b.Add(Spec{Type: Freeze}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	checkState(t, b, "an hour later", state{4, ""})
}

func TestReadsDoNotChangeIncarnation(t *testing.T) {
	b, clk := newTestBook(t, Realistic())
	if _, err := b.Add(Spec{Type: Reboot}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		b.Events()
		b.Document(Versions[i%len(Versions)])
		clk.Advance(time.Second)
	}
	if got := b.Incarnation(); got != 2 {
		t.Errorf("Incarnation after 50 reads = %d, want 2", got)
	}
}

func TestClockBackwards(t *testing.T) {
	b, clk := newTestBook(t, Realistic())
	e, err := b.Add(Spec{Type: Freeze})
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(e.NotBefore)
	checkState(t, b, "started", state{3, Started})
	clk.Set(t0)
	checkState(t, b, "clock moved back", state{3, Started})
}

func TestAddStarted(t *testing.T) {
	b, clk := newTestBook(t, Realistic())
	e, err := b.Add(Spec{Type: Redeploy, Status: Started})
	if err != nil {
		t.Fatal(err)
	}
	if e.Description != "Host server is undergoing an emergency repair." {
		t.Errorf("Description = %q, want the emergency-repair text of a hardware failure", e.Description)
	}
	if !e.NotBefore.IsZero() || !e.StartedAt.Equal(t0) {
		t.Errorf("NotBefore, StartedAt = %v, %v; want zero, %v", e.NotBefore, e.StartedAt, t0)
	}
	checkState(t, b, "added", state{2, Started})
	clk.Advance(Realistic().Redeploy.Impact + Realistic().Linger)
	checkState(t, b, "finished", state{3, ""})
}

func TestAddDefaults(t *testing.T) {
	tests := []struct {
		spec     Spec
		desc     string
		source   Source
		duration int
	}{
		{Spec{Type: Freeze}, "Virtual machine is being paused because of a memory-preserving Live Migration operation.", Platform, 5},
		{Spec{Type: Reboot}, "Host server is undergoing maintenance.", Platform, -1},
		{Spec{Type: Reboot, Source: User}, "Virtual machine is going to be restarted as requested by authorized user.", User, -1},
		{Spec{Type: Redeploy}, "Host server is undergoing maintenance.", Platform, -1},
		{Spec{Type: Redeploy, Source: User}, "Virtual machine is going to be redeployed as requested by authorized user.", User, -1},
		{Spec{Type: Preempt}, "The Virtual Machine will be evicted.", Platform, -1},
		{Spec{Type: Terminate}, "Virtual machine is going to be deleted.", Platform, -1},
		{Spec{Type: Terminate, Source: User}, "Virtual machine is going to be deleted as requested by authorized user.", User, -1},
		{Spec{Type: Freeze, Description: "custom", DurationInSeconds: new(0)}, "custom", Platform, 0},
	}
	guid := regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.spec.Type, tt.spec.Source), func(t *testing.T) {
			b, _ := newTestBook(t, Realistic())
			e, err := b.Add(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if e.Description != tt.desc || e.Source != tt.source || e.DurationInSeconds != tt.duration {
				t.Errorf("got %q, %s, %d; want %q, %s, %d", e.Description, e.Source, e.DurationInSeconds, tt.desc, tt.source, tt.duration)
			}
			if !slices.Equal(e.Resources, []string{"vm0"}) || e.Status != Scheduled || e.Approved {
				t.Errorf("got Resources %v, Status %s, Approved %v; want [vm0], Scheduled, false", e.Resources, e.Status, e.Approved)
			}
			if !guid.MatchString(e.ID) {
				t.Errorf("ID %q is not an upper-case version 4 GUID", e.ID)
			}
		})
	}
}

func TestAddNotBeforeRounding(t *testing.T) {
	clk := newFakeClock(t0.Add(300 * time.Millisecond))
	b, err := NewBook("vm0", clk.Now, Fast())
	if err != nil {
		t.Fatal(err)
	}
	e, err := b.Add(Spec{Type: Preempt}) // Fast notice: 500 ms
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(time.Second); !e.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %v, want %v (rounded up to the second)", e.NotBefore, want)
	}
}

func TestAddInvalid(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string // a part of the message that names the field
	}{
		{"no type", Spec{}, `Type ""`},
		{"unknown type", Spec{Type: "Hibernate"}, `Type "Hibernate"`},
		{"lower-case type", Spec{Type: "freeze"}, `Type "freeze"`},
		{"unknown status", Spec{Type: Freeze, Status: "Completed"}, `Status "Completed"`},
		{"unknown source", Spec{Type: Freeze, Source: "Azure"}, `Source "Azure"`},
		{"negative delay", Spec{Type: Freeze, Delay: -time.Second}, "Delay -1s is negative"},
		{"delay too long", Spec{Type: Freeze, Delay: MaxNotice + time.Second}, "Delay"},
		{"both times", Spec{Type: Freeze, Delay: time.Minute, NotBefore: t0.Add(time.Hour)}, "both NotBefore and Delay"},
		{"past NotBefore", Spec{Type: Freeze, NotBefore: t0.Add(-time.Second)}, "NotBefore 2016-09-19T18:14:46Z is not in the future"},
		{"NotBefore now", Spec{Type: Freeze, NotBefore: t0}, "is not in the future"},
		{"NotBefore too far", Spec{Type: Freeze, NotBefore: t0.Add(MaxNotice + time.Second)}, "MaxNotice"},
		{"started with delay", Spec{Type: Reboot, Status: Started, Delay: time.Minute}, "Started event"},
		{"too many resources", Spec{Type: Freeze, Resources: make([]string, MaxResources+1)}, "Resources lists 201 names"},
		{"empty resource", Spec{Type: Freeze, Resources: []string{"vm0", ""}}, "Resources[1] is empty"},
		{"long resource", Spec{Type: Freeze, Resources: []string{strings.Repeat("v", MaxNameLength+1)}}, "Resources[0] is 129 bytes"},
		{"control in resource", Spec{Type: Freeze, Resources: []string{"vm\n0"}}, "Resources[0]"},
		{"long description", Spec{Type: Freeze, Description: strings.Repeat("d", MaxDescriptionLength+1)}, "Description is 1025 bytes"},
		{"bad UTF-8 description", Spec{Type: Freeze, Description: "caf\xe9"}, "Description"},
		{"duration below -1", Spec{Type: Freeze, DurationInSeconds: new(-2)}, "DurationInSeconds -2"},
		{"duration too long", Spec{Type: Freeze, DurationInSeconds: new(MaxDurationInSeconds + 1)}, "DurationInSeconds"},
		{"bad id", Spec{Type: Freeze, ID: "a b"}, `ID "a b" contains ' '`},
		{"long id", Spec{Type: Freeze, ID: strings.Repeat("A", MaxIDLength+1)}, "ID is 65 bytes"},
		{"duplicate id", Spec{Type: Freeze, ID: "existing"}, `ID "existing" is already used`},
		{"duplicate id other case", Spec{Type: Freeze, ID: "EXISTING"}, `ID "EXISTING" is already used`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := newTestBook(t, Realistic())
			if _, err := b.Add(Spec{Type: Reboot, ID: "existing"}); err != nil {
				t.Fatal(err)
			}
			_, err := b.Add(tt.spec)
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Add error = %v, want ErrInvalidSpec", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Add error = %q, want it to contain %q", err, tt.want)
			}
			if got := b.Incarnation(); got != 2 || len(b.Events()) != 1 {
				t.Errorf("a refused Add changed the book: incarnation %d, %d events", got, len(b.Events()))
			}
		})
	}
}

func TestAddTooMany(t *testing.T) {
	b, clk := newTestBook(t, Realistic())
	for i := 0; i < MaxEvents; i++ {
		if _, err := b.Add(Spec{Type: Freeze}); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	if _, err := b.Add(Spec{Type: Freeze}); !errors.Is(err, ErrTooManyEvents) {
		t.Fatalf("event %d: error %v, want ErrTooManyEvents", MaxEvents, err)
	}
	clk.Advance(time.Hour) // all finish
	if _, err := b.Add(Spec{Type: Freeze}); err != nil {
		t.Fatalf("after the events finished: %v", err)
	}
}

func TestApprove(t *testing.T) {
	const a, b2, c = "AAAAAAAA-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002", "CCCCCCCC-0000-4000-8000-000000000003"
	tests := []struct {
		name        string
		immediate   bool
		ids         []string
		unknown     []string // nil: success
		started     []string // events Started afterwards
		approved    []string // events marked Approved afterwards
		incarnation int      // 4 after adding three events
	}{
		{"one", true, []string{a}, nil, []string{a}, []string{a}, 5},
		{"several", true, []string{a, c}, nil, []string{a, c}, []string{a, c}, 6},
		{"other case", true, []string{strings.ToLower(a), strings.ToUpper(b2)}, nil, []string{a, b2}, []string{a, b2}, 6},
		{"duplicate", true, []string{a, a}, nil, []string{a}, []string{a}, 5},
		{"none", true, nil, nil, nil, nil, 4},
		{"unknown", true, []string{"nope"}, []string{"nope"}, nil, nil, 4},
		{"known and unknown", true, []string{a, "x-1", c, "x-2"}, []string{"x-1", "x-2"}, nil, nil, 4},
		{"not immediate", false, []string{a}, nil, nil, []string{a}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timing := Realistic()
			timing.ApprovalStartsImmediately = tt.immediate
			bk, clk := newTestBook(t, timing)
			for _, id := range []string{a, b2, c} {
				if _, err := bk.Add(Spec{Type: Reboot, ID: id}); err != nil {
					t.Fatal(err)
				}
			}
			clk.Advance(time.Minute)

			err := bk.Approve(tt.ids)
			var unknownErr *UnknownEventError
			switch {
			case tt.unknown == nil && err != nil:
				t.Fatalf("Approve: %v", err)
			case tt.unknown != nil && !errors.As(err, &unknownErr):
				t.Fatalf("Approve error = %v, want *UnknownEventError", err)
			case tt.unknown != nil && !slices.Equal(unknownErr.IDs, tt.unknown):
				t.Errorf("unknown ids = %v, want %v", unknownErr.IDs, tt.unknown)
			}

			if got := bk.Incarnation(); got != tt.incarnation {
				t.Errorf("incarnation = %d, want %d", got, tt.incarnation)
			}
			for _, e := range bk.Events() {
				if want := slices.Contains(tt.started, e.ID); (e.Status == Started) != want {
					t.Errorf("%s: status %s, want started=%v", e.ID, e.Status, want)
				}
				if want := slices.Contains(tt.approved, e.ID); e.Approved != want {
					t.Errorf("%s: Approved %v, want %v", e.ID, e.Approved, want)
				}
				if e.Status == Started && !e.StartedAt.Equal(clk.Now()) {
					t.Errorf("%s: StartedAt %v, want the approval time %v", e.ID, e.StartedAt, clk.Now())
				}
			}
		})
	}
}

func TestApproveStartedAndLater(t *testing.T) {
	b, clk := newTestBook(t, Realistic())
	e, err := b.Add(Spec{Type: Freeze})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Approve([]string{e.ID}); err != nil {
		t.Fatal(err)
	}
	checkState(t, b, "approved", state{3, Started})
	if err := b.Approve([]string{e.ID}); err != nil {
		t.Fatalf("approving a Started event again: %v", err)
	}
	checkState(t, b, "approved twice", state{3, Started})

	// The removal counts from the approval, not from the announced NotBefore.
	clk.Advance(Realistic().Freeze.Impact + Realistic().Linger)
	checkState(t, b, "finished", state{4, ""})
	var unknown *UnknownEventError
	if err := b.Approve([]string{e.ID}); !errors.As(err, &unknown) {
		t.Errorf("approving a finished event: %v, want *UnknownEventError", err)
	}
}

func TestApproveWaitsForNotBefore(t *testing.T) {
	timing := Realistic()
	timing.ApprovalStartsImmediately = false
	b, clk := newTestBook(t, timing)
	e, err := b.Add(Spec{Type: Freeze})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Approve([]string{e.ID}); err != nil {
		t.Fatal(err)
	}
	checkState(t, b, "approved", state{2, Scheduled})
	clk.Set(e.NotBefore)
	checkState(t, b, "at NotBefore", state{3, Started})
}

func TestCancel(t *testing.T) {
	b, clk := newTestBook(t, Realistic())
	keep, err := b.Add(Spec{Type: Reboot})
	if err != nil {
		t.Fatal(err)
	}
	drop, err := b.Add(Spec{Type: Freeze, ID: "freeze-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Cancel("FREEZE-1"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if got := b.Incarnation(); got != 4 {
		t.Errorf("incarnation after cancel = %d, want 4", got)
	}
	if evs := b.Events(); len(evs) != 1 || evs[0].ID != keep.ID {
		t.Errorf("events after cancel = %v, want only %s", evs, keep.ID)
	}
	var unknown *UnknownEventError
	if err := b.Cancel(drop.ID); !errors.As(err, &unknown) || !slices.Equal(unknown.IDs, []string{drop.ID}) {
		t.Errorf("cancelling twice: %v, want *UnknownEventError for %s", err, drop.ID)
	}
	if got := b.Incarnation(); got != 4 {
		t.Errorf("incarnation after a refused cancel = %d, want 4", got)
	}

	// A Started event can be cancelled too (the maintenance ended early).
	clk.Set(keep.NotBefore)
	if err := b.Cancel(keep.ID); err != nil {
		t.Fatalf("cancelling a Started event: %v", err)
	}
	checkState(t, b, "all cancelled", state{6, ""})
}

func TestEventsAreCopies(t *testing.T) {
	b, _ := newTestBook(t, Realistic())
	if _, err := b.Add(Spec{Type: Freeze, Resources: []string{"vm0", "vm1"}}); err != nil {
		t.Fatal(err)
	}
	b.Events()[0].Resources[0] = "changed"
	if got := b.Events()[0].Resources[0]; got != "vm0" {
		t.Errorf("changing a returned event changed the book: %q", got)
	}
}

func TestNewBookInvalid(t *testing.T) {
	tests := []struct {
		name   string
		vm     string
		timing Timing
		want   string
	}{
		{"empty name", "", Realistic(), "VM name is empty"},
		{"long name", strings.Repeat("n", MaxNameLength+1), Realistic(), "VM name is 129 bytes"},
		{"zero timing", "vm0", Timing{}, "Freeze.Notice is 0s"},
		{"negative impact", "vm0", func() Timing { t := Realistic(); t.Reboot.Impact = -1; return t }(), "Reboot.Impact"},
		{"negative linger", "vm0", func() Timing { t := Realistic(); t.Linger = -1; return t }(), "Linger"},
		{"notice too long", "vm0", func() Timing { t := Realistic(); t.Terminate.Notice = 8 * 24 * time.Hour; return t }(), "Terminate.Notice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewBook(tt.vm, nil, tt.timing)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewBook error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestFastIsRealisticDividedBy60(t *testing.T) {
	r, f := Realistic(), Fast()
	for _, typ := range []EventType{Freeze, Reboot, Redeploy, Preempt, Terminate} {
		if rp, fp := r.Phase(typ), f.Phase(typ); fp.Notice != rp.Notice/60 || fp.Impact != rp.Impact/60 {
			t.Errorf("%s: Fast %+v, Realistic %+v", typ, fp, rp)
		}
	}
	if f.Linger != r.Linger/60 || !f.ApprovalStartsImmediately {
		t.Errorf("Fast Linger %v, approval %v", f.Linger, f.ApprovalStartsImmediately)
	}
}

// TestConcurrent is for the race detector: every method at once on one book.
func TestConcurrent(t *testing.T) {
	b, clk := newTestBook(t, Fast())
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				e, err := b.Add(Spec{Type: Freeze})
				if err != nil && !errors.Is(err, ErrTooManyEvents) {
					t.Error(err)
					return
				}
				clk.Advance(100 * time.Millisecond)
				_ = b.Approve([]string{e.ID})
				_ = b.Cancel(e.ID)
				b.Document(Versions[i%len(Versions)])
				b.Events()
			}
		}()
	}
	wg.Wait()
}
