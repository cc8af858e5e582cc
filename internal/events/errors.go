package events

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalidSpec is wrapped by every error of [Book.Add] that comes from the Spec itself,
// so a caller can answer with a client error (400) rather than a server error.
var ErrInvalidSpec = errors.New("events: invalid event spec")

// ErrTooManyEvents is wrapped by the error of [Book.Add] when the VM already has
// [MaxEvents] current events.
var ErrTooManyEvents = errors.New("events: too many events")

// ErrTooManyBooks is wrapped by the error of [Registry.Book] when the registry already
// holds its maximum number of VMs.
var ErrTooManyBooks = errors.New("events: too many VMs")

// UnknownEventError is returned by [Book.Approve] and [Book.Cancel] when an id names no
// current event of the book: it never existed, or it has already finished or been
// cancelled. The book is left unchanged.
type UnknownEventError struct {
	// IDs are the unknown ids, as the caller gave them, in the caller's order.
	IDs []string
}

func (e *UnknownEventError) Error() string {
	quoted := make([]string, len(e.IDs))
	for i, id := range e.IDs {
		quoted[i] = strconv.Quote(id)
	}
	noun := "EventId"
	if len(e.IDs) > 1 {
		noun = "EventIds"
	}
	return "events: unknown " + noun + " " + strings.Join(quoted, ", ") +
		": not a current event of this VM (it may have finished or been cancelled); GET /metadata/scheduledevents lists the current ones"
}
