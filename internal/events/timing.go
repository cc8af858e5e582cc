package events

import (
	"fmt"
	"time"
)

// Phase holds the timings of one event type.
type Phase struct {
	// Notice is the time from Add to NotBefore for a Spec that gives neither NotBefore
	// nor Delay: Azure's minimum notice for the type.
	Notice time.Duration
	// Impact is how long the interruption itself lasts once the event has started
	// (the VM is frozen, rebooting, moving or going away).
	Impact time.Duration
}

// Timing says how long each phase of an event lasts. Azure documents only the minimum
// notices; the rest are emulator choices, so every value is a setting.
//
// Build one from [Realistic] or [Fast] and change fields as needed; the zero Timing is
// invalid (see [Timing.Validate]).
type Timing struct {
	Freeze, Reboot, Redeploy, Preempt, Terminate Phase

	// Linger is how long a Started event stays in the document after its impact has
	// ended, before it is removed: Azure keeps an event listed while it checks the
	// host's health after the maintenance.
	Linger time.Duration

	// ApprovalStartsImmediately makes an approved Scheduled event start at once.
	// When false, approval is only recorded ([Event.Approved]) and the event still
	// waits for its NotBefore, as Azure may when other VMs have not approved yet.
	ApprovalStartsImmediately bool
}

// Realistic returns timings close to Azure's: the documented minimum notices (Freeze
// and Reboot 15 min, Redeploy 10 min, Preempt 30 s, Terminate 5 min, which Azure lets
// the scale-set owner set between 5 and 15 min), a 7 s freeze, and events removed
// about 10 minutes after they start (impact plus a 10 min Linger). Approval starts an
// event at once. Only the notices are documented by Azure; the other values are
// estimates.
func Realistic() Timing {
	return Timing{
		Freeze:                    Phase{Notice: 15 * time.Minute, Impact: 7 * time.Second},
		Reboot:                    Phase{Notice: 15 * time.Minute, Impact: time.Minute},
		Redeploy:                  Phase{Notice: 10 * time.Minute, Impact: 5 * time.Minute},
		Preempt:                   Phase{Notice: 30 * time.Second, Impact: 30 * time.Second},
		Terminate:                 Phase{Notice: 5 * time.Minute, Impact: 30 * time.Second},
		Linger:                    10 * time.Minute,
		ApprovalStartsImmediately: true,
	}
}

// Fast returns [Realistic] with every duration divided by 60, like the developer timing
// of Azure-Samples/scheduled-events-mock-server: a Freeze is announced 15 s ahead and
// gone about 10 s after it starts.
func Fast() Timing {
	return Realistic().divide(60)
}

// divide returns t with every duration divided by n.
func (t Timing) divide(n time.Duration) Timing {
	for _, p := range t.phases() {
		p.Notice /= n
		p.Impact /= n
	}
	t.Linger /= n
	return t
}

// phases returns pointers to the phases of t, in type order, so loops can change them.
func (t *Timing) phases() []*Phase {
	return []*Phase{&t.Freeze, &t.Reboot, &t.Redeploy, &t.Preempt, &t.Terminate}
}

// Phase returns the timings of events of type typ, or the zero Phase for an unknown type.
func (t Timing) Phase(typ EventType) Phase {
	switch typ {
	case Freeze:
		return t.Freeze
	case Reboot:
		return t.Reboot
	case Redeploy:
		return t.Redeploy
	case Preempt:
		return t.Preempt
	case Terminate:
		return t.Terminate
	}
	return Phase{}
}

// Validate reports the first unusable value of t: a notice that is not positive (the
// event would start as it is announced) or longer than MaxNotice, or a negative impact
// or linger.
// It does not enforce Azure's 5-15 min range for Terminate, because [Fast] and test
// timings are deliberately shorter; a configuration loader can.
func (t Timing) Validate() error {
	for _, typ := range []EventType{Freeze, Reboot, Redeploy, Preempt, Terminate} {
		p := t.Phase(typ)
		if p.Notice <= 0 || p.Notice > MaxNotice {
			return fmt.Errorf("events: timing %s.Notice is %v: give a positive duration of at most %v (Azure's minimum notices are in Realistic)", typ, p.Notice, MaxNotice)
		}
		if p.Impact < 0 {
			return fmt.Errorf("events: timing %s.Impact is %v: give zero or a positive duration", typ, p.Impact)
		}
	}
	if t.Linger < 0 {
		return fmt.Errorf("events: timing Linger is %v: give zero or a positive duration", t.Linger)
	}
	return nil
}
