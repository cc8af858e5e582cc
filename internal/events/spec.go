package events

import (
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds on what a book accepts. They keep one VM's document small (a client polls it
// every second) and stop a runaway script from filling memory.
const (
	// MaxEvents is the most current events one VM may have.
	MaxEvents = 100
	// MaxResources is the most names one event may list: Azure broadcasts an event to
	// an availability set or placement group, and an availability set holds at most
	// 200 VMs.
	MaxResources = 200
	// MaxNameLength is the longest VM or resource name in bytes; Azure's longest
	// names (scale-set instances, "<scale set>_<id>") stay well below it.
	MaxNameLength = 128
	// MaxDescriptionLength is the longest Description in bytes.
	MaxDescriptionLength = 1024
	// MaxNotice is the furthest ahead an event may be scheduled: Azure announces
	// migrations for degraded hardware up to about 7 days ahead.
	MaxNotice = 7 * 24 * time.Hour
	// MaxDurationInSeconds is the largest DurationInSeconds accepted (7 days).
	MaxDurationInSeconds = int(MaxNotice / time.Second)
)

// Spec describes an event to add to a [Book]. Only Type is required; every zero field
// takes a realistic default for the type.
type Spec struct {
	// Type is the kind of event. Required.
	Type EventType

	// Resources are the VMs the event affects. Default: the book's VM alone. List other
	// VMs of the same availability set or placement group to emulate Azure's broadcast,
	// in which each VM must check whether it is listed.
	Resources []string

	// NotBefore is when a Scheduled event starts unless approved earlier. It must be in
	// the future, at most MaxNotice ahead, and is rounded up to a whole second because
	// the document shows whole seconds. Give NotBefore or Delay, not both.
	NotBefore time.Time
	// Delay sets NotBefore relative to now. When both NotBefore and Delay are zero,
	// the type's Notice from the book's Timing is used (Azure's minimum notice under
	// Realistic).
	Delay time.Duration

	// Description is free text for humans. Default: a text Azure uses for the type,
	// source and status (for example "Host server is undergoing maintenance.").
	Description string

	// Source is who asked for the event. Default: Platform.
	Source Source

	// DurationInSeconds is the expected interruption, -1 for unknown or not applicable
	// and 0 for none. nil means the default: 5 for Freeze (Azure's documentation sample),
	// -1 for the other types, whose interruption Azure does not predict.
	// Write new(30) for an explicit value.
	DurationInSeconds *int

	// Status is Scheduled (default), or Started for an event that begins without notice,
	// like Azure's repair after a hardware failure. A Started event has no NotBefore, so
	// NotBefore and Delay must then be zero.
	Status Status

	// ID is the EventId: letters, digits, '-' and '_', at most MaxIDLength bytes, unique
	// (ignoring case) among the book's current events. Default: a random upper-case GUID.
	ID string
}

// event validates s and returns the event it describes, added at now to the book of
// VM vm. Uniqueness of the ID is the book's to check.
func (s Spec) event(vm string, now time.Time, t Timing) (Event, error) {
	if _, ok := typeSince[s.Type]; !ok {
		return Event{}, invalid("Type %q is not an event type: use Freeze, Reboot, Redeploy, Preempt or Terminate", s.Type)
	}

	e := Event{ID: s.ID, Type: s.Type, Status: s.Status, Source: s.Source, Description: s.Description}
	switch e.Status {
	case "":
		e.Status = Scheduled
	case Scheduled, Started:
	default:
		return Event{}, invalid("Status %q is not an event status: use Scheduled, or Started for an event under way without notice; an event that is over is removed with Cancel", s.Status)
	}
	switch e.Source {
	case "":
		e.Source = Platform
	case Platform, User:
	default:
		return Event{}, invalid("Source %q is not an event source: use Platform or User", s.Source)
	}

	if err := s.when(&e, now, t); err != nil {
		return Event{}, err
	}

	if len(s.Resources) == 0 {
		e.Resources = []string{vm}
	} else {
		if len(s.Resources) > MaxResources {
			return Event{}, invalid("Resources lists %d names: list at most %d", len(s.Resources), MaxResources)
		}
		for i, r := range s.Resources {
			if err := checkName(r); err != nil {
				return Event{}, invalid("Resources[%d] %s", i, err)
			}
		}
		e.Resources = append([]string(nil), s.Resources...)
	}

	if e.Description == "" {
		e.Description = defaultDescription(e.Type, e.Source, e.Status)
	} else if err := checkText(e.Description, MaxDescriptionLength); err != nil {
		return Event{}, invalid("Description %s", err)
	}

	e.DurationInSeconds = -1
	if e.Type == Freeze {
		e.DurationInSeconds = 5
	}
	if s.DurationInSeconds != nil {
		d := *s.DurationInSeconds
		if d < -1 || d > MaxDurationInSeconds {
			return Event{}, invalid("DurationInSeconds %d is out of range: give -1 (unknown), 0 (no interruption) or up to %d seconds", d, MaxDurationInSeconds)
		}
		e.DurationInSeconds = d
	}

	if e.ID != "" {
		if err := checkID(e.ID); err != nil {
			return Event{}, invalid("ID %s", err)
		}
	}
	return e, nil
}

// when sets e.NotBefore (or e.StartedAt for an event added as Started) from s.
func (s Spec) when(e *Event, now time.Time, t Timing) error {
	if s.Delay < 0 {
		return invalid("Delay %v is negative: give a positive delay, or zero for the %s default notice of %v", s.Delay, s.Type, t.Phase(s.Type).Notice)
	}
	hasNotBefore := !s.NotBefore.IsZero()
	if hasNotBefore && s.Delay != 0 {
		return invalid("both NotBefore and Delay are set: give one of them")
	}
	if e.Status == Started {
		if hasNotBefore || s.Delay != 0 {
			return invalid("NotBefore or Delay is set on a Started event: a Started event has no NotBefore; drop them, or use Status Scheduled")
		}
		e.StartedAt = now
		return nil
	}

	nb := s.NotBefore
	switch {
	case hasNotBefore:
	case s.Delay != 0:
		if s.Delay > MaxNotice {
			return invalid("Delay %v is more than MaxNotice (%v): Azure announces events at most about 7 days ahead", s.Delay, MaxNotice)
		}
		nb = now.Add(s.Delay)
	default:
		nb = now.Add(t.Phase(s.Type).Notice)
	}
	if !nb.After(now) {
		return invalid("NotBefore %s is not in the future (now is %s): give a later time, or Status Started for an event already under way", nb.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if nb.Sub(now) > MaxNotice {
		return invalid("NotBefore %s is more than MaxNotice (%v) ahead: Azure announces events at most about 7 days ahead", nb.UTC().Format(time.RFC3339), MaxNotice)
	}
	nb = ceilSecond(nb.UTC())
	e.NotBefore = nb
	return nil
}

// defaultDescription returns a text Azure writes for events like this one.
func defaultDescription(typ EventType, src Source, st Status) string {
	switch typ {
	case Freeze:
		return "Virtual machine is being paused because of a memory-preserving Live Migration operation."
	case Reboot, Redeploy:
		switch {
		case src == User && typ == Reboot:
			return "Virtual machine is going to be restarted as requested by authorized user."
		case src == User:
			return "Virtual machine is going to be redeployed as requested by authorized user."
		case st == Started:
			return "Host server is undergoing an emergency repair."
		}
		return "Host server is undergoing maintenance."
	case Preempt:
		return "The Virtual Machine will be evicted."
	case Terminate:
		if src == User {
			return "Virtual machine is going to be deleted as requested by authorized user."
		}
		return "Virtual machine is going to be deleted."
	}
	return ""
}

// invalid returns an error wrapping ErrInvalidSpec.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSpec}, args...)...)
}

// ceilSecond rounds t up to a whole second, so the NotBefore a client reads is never
// later than the moment the event starts.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); r.Before(t) {
		return r.Add(time.Second)
	}
	return t
}

// checkName checks a VM or resource name; the error says what is wrong, not which field.
func checkName(s string) error {
	if s == "" {
		return fmt.Errorf("is empty: give the VM's name")
	}
	return checkText(s, MaxNameLength)
}

// checkText checks that s is printable UTF-8 of at most max bytes. Invalid UTF-8 would
// be rewritten to U+FFFD by the JSON encoder, so a client would see something else
// than what was set.
func checkText(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("is %d bytes long: shorten it to at most %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8: give UTF-8 text", s)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%q contains the control character %U: remove it", s, r)
		}
	}
	return nil
}
