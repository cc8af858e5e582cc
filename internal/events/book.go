package events

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Book holds the scheduled events of one VM. It is safe for concurrent use.
//
// A Book has no goroutine: every method first moves the events to the time its [Clock]
// returns, so the state is always what it would have been had someone watched all along.
type Book struct {
	vm     string
	clock  Clock
	timing Timing

	mu          sync.Mutex
	incarnation int
	events      []entry // in the order they were added, which is the document's order
}

// entry is an event with the bookkeeping that clients never see.
type entry struct {
	Event
	removeAt time.Time // set when the event starts
}

// NewBook returns an empty book for the VM named vmName, whose document is
// {"DocumentIncarnation":1,"Events":[]} until an event is added. vmName is the default
// Resources of new events. A nil clock means time.Now.
func NewBook(vmName string, clock Clock, timing Timing) (*Book, error) {
	if err := checkName(vmName); err != nil {
		return nil, fmt.Errorf("events: VM name %w", err)
	}
	if err := timing.Validate(); err != nil {
		return nil, err
	}
	return &Book{vm: vmName, clock: clock.orNow(), timing: timing, incarnation: 1}, nil
}

// Name returns the name of the book's VM.
func (b *Book) Name() string { return b.vm }

// Add validates s, fills in its defaults and adds the event it describes.
// The error wraps [ErrInvalidSpec] when s is at fault (naming the field and the fix),
// or wraps [ErrTooManyEvents] when the VM already has [MaxEvents] current events.
func (b *Book) Add(s Spec) (Event, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.advance()

	e, err := s.event(b.vm, now, b.timing)
	if err != nil {
		return Event{}, err
	}
	if len(b.events) >= MaxEvents {
		return Event{}, fmt.Errorf("%w: VM %q already has %d current events: cancel some or let them finish", ErrTooManyEvents, b.vm, len(b.events))
	}
	switch {
	case e.ID == "":
		for e.ID = newGUID(); b.find(e.ID) >= 0; e.ID = newGUID() {
		}
	case b.find(e.ID) >= 0:
		return Event{}, invalid("ID %q is already used by a current event of VM %q: choose another, or leave ID empty for a random GUID", e.ID, b.vm)
	}

	en := entry{Event: e}
	if e.Status == Started {
		en.removeAt = b.removeAt(e.Type, e.StartedAt)
	}
	b.events = append(b.events, en)
	b.incarnation++
	return e.clone(), nil
}

// Approve records an approval (a StartRequest) for each id, matching ids without regard
// to case. With [Timing.ApprovalStartsImmediately] a Scheduled event starts now;
// otherwise, and for a Started event, the approval is only recorded ([Event.Approved])
// and the document does not change.
//
// Every id must name a current event; otherwise Approve returns an
// [*UnknownEventError] listing the unknown ids and approves none of them.
func (b *Book) Approve(ids []string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.advance()

	var unknown []string
	for _, id := range ids {
		if b.find(id) < 0 {
			unknown = append(unknown, id)
		}
	}
	if unknown != nil {
		return &UnknownEventError{IDs: unknown}
	}
	for _, id := range ids {
		en := &b.events[b.find(id)]
		en.Approved = true
		if en.Status == Scheduled && b.timing.ApprovalStartsImmediately {
			b.start(en, now)
		}
	}
	return nil
}

// Cancel removes the current event id (matched without regard to case), as Azure does
// when it calls maintenance off; clients see the event disappear. An unknown id is an
// [*UnknownEventError].
func (b *Book) Cancel(id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()

	i := b.find(id)
	if i < 0 {
		return &UnknownEventError{IDs: []string{id}}
	}
	b.events = slices.Delete(b.events, i, i+1)
	b.incarnation++
	return nil
}

// Events returns copies of the current events, in the order they were added.
func (b *Book) Events() []Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	return b.snapshot()
}

// Incarnation returns the current DocumentIncarnation: 1 for a new book, plus one for
// every event added, started, finished or cancelled since.
func (b *Book) Incarnation() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	return b.incarnation
}

// snapshot returns copies of the current events. b.mu must be held.
func (b *Book) snapshot() []Event {
	out := make([]Event, len(b.events))
	for i := range b.events {
		out[i] = b.events[i].clone()
	}
	return out
}

// advance applies every transition due by the clock's current time, which it returns.
// A transition happens at its own time, not when it is observed, so the outcome (and
// the incarnation, one per transition) is the same however often the book is read.
// If the clock moves backwards nothing is undone. b.mu must be held.
func (b *Book) advance() time.Time {
	now := b.clock()
	kept := b.events[:0]
	for _, en := range b.events {
		if en.Status == Scheduled && !now.Before(en.NotBefore) {
			b.start(&en, en.NotBefore)
		}
		if en.Status == Started && !now.Before(en.removeAt) {
			b.incarnation++
			continue
		}
		kept = append(kept, en)
	}
	clear(b.events[len(kept):]) // drop references held by removed entries
	b.events = kept
	return now
}

// start moves en to Started at time at. b.mu must be held.
func (b *Book) start(en *entry, at time.Time) {
	en.Status = Started
	en.StartedAt = at
	en.removeAt = b.removeAt(en.Type, at)
	b.incarnation++
}

// removeAt returns when an event of type typ that started at start leaves the document.
func (b *Book) removeAt(typ EventType, start time.Time) time.Time {
	return start.Add(b.timing.Phase(typ).Impact + b.timing.Linger)
}

// find returns the index of the current event id, or -1. Case is ignored because
// clients may echo a GUID in either case. b.mu must be held.
func (b *Book) find(id string) int {
	for i := range b.events {
		if equalFoldASCII(b.events[i].ID, id) {
			return i
		}
	}
	return -1
}

// equalFoldASCII is strings.EqualFold restricted to ASCII letters: EventIds are ASCII,
// and Unicode folding would let "\u212A" (Kelvin sign) approve an event named "k".
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
