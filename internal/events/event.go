package events

import "time"

// EventType is the kind of maintenance an event announces, as written in EventType.
type EventType string

// The event types Azure documents. Each names what happens to the VM when the event starts.
const (
	// Freeze pauses the VM for a few seconds (live migration, host maintenance); memory,
	// open files and network connections are kept.
	Freeze EventType = "Freeze"
	// Reboot restarts the VM; the temporary disk is kept.
	Reboot EventType = "Reboot"
	// Redeploy moves the VM to another host; the temporary disk is lost.
	Redeploy EventType = "Redeploy"
	// Preempt evicts a Spot VM; reported from api-version 2017-11-01.
	Preempt EventType = "Preempt"
	// Terminate deletes a scale-set VM; reported from api-version 2019-01-01.
	Terminate EventType = "Terminate"
)

// Status is the phase of an event, as written in EventStatus. There is no "Completed":
// a finished or cancelled event disappears from the document.
type Status string

const (
	// Scheduled events have not started; NotBefore says when they may.
	Scheduled Status = "Scheduled"
	// Started events are under way; their NotBefore is written as "".
	Started Status = "Started"
)

// Source says who asked for the event, as written in EventSource.
type Source string

const (
	// Platform events come from Azure (maintenance, failures, evictions).
	Platform Source = "Platform"
	// User events come from the VM's owner (a reboot or redeploy from the portal or CLI).
	User Source = "User"
)

// Event is one event of a [Book], as [Book.Events] reports it. Its JSON form (the
// control API's) uses the wire names where there is one. It is a copy: changing it
// changes nothing in the book.
type Event struct {
	ID                string    `json:"EventId"`
	Type              EventType `json:"EventType"`
	Status            Status    `json:"EventStatus"`
	Resources         []string  `json:"Resources"`          // VM names, without the "_" prefix of api-version 2017-03-01
	NotBefore         time.Time `json:"NotBefore,omitzero"` // when the event was announced to start; zero for an event added as Started
	Description       string    `json:"Description"`
	Source            Source    `json:"EventSource"`
	DurationInSeconds int       `json:"DurationInSeconds"`  // expected interruption; -1 unknown or not applicable, 0 none
	Approved          bool      `json:"Approved"`           // a StartRequest named this event
	StartedAt         time.Time `json:"StartedAt,omitzero"` // zero while Scheduled
}

// clone returns a copy of e that shares no memory with it.
func (e Event) clone() Event {
	e.Resources = append([]string(nil), e.Resources...)
	return e
}
