package events

import "time"

// Clock returns the current time. Books read it on every call instead of arming timers,
// so a test can move time forward by changing what its Clock returns.
//
// A nil Clock means time.Now.
type Clock func() time.Time

// orNow returns c, or time.Now when c is nil.
func (c Clock) orNow() Clock {
	if c == nil {
		return time.Now
	}
	return c
}
