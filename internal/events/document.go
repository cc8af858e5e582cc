package events

import (
	"bytes"
	"encoding/json"
)

// notBeforeLayout is RFC 1123 with a literal "GMT" (http.TimeFormat). time.RFC1123
// would print "UTC" for a UTC time, which Azure never writes.
const notBeforeLayout = "Mon, 02 Jan 2006 15:04:05 GMT"

// resourceType is the only ResourceType Azure documents.
const resourceType = "VirtualMachine"

// Document returns the body of GET /metadata/scheduledevents for apiVersion, as Azure
// writes it: compact JSON without a trailing newline, members in the documentation's
// order (not sorted), '<', '>' and '&' unescaped, DocumentIncarnation and
// DurationInSeconds as JSON numbers. For example:
//
//	{"DocumentIncarnation":1,"Events":[]}
//
// The version decides the content: Description appears from 2019-04-01, EventSource
// from 2019-08-01 and DurationInSeconds from 2020-07-01; Preempt events are left out
// before 2017-11-01 and Terminate events before 2019-01-01; 2017-03-01 prefixes every
// resource name with "_". A version that [Accepts] refuses is rendered as the newest;
// the caller is expected to have answered it with an error already.
func (b *Book) Document(apiVersion string) []byte {
	b.mu.Lock()
	b.advance()
	incarnation, evs := b.incarnation, b.snapshot()
	b.mu.Unlock()
	return render(incarnation, evs, apiVersion)
}

// wireDocument and wireEvent fix the member order of the JSON: encoding/json writes
// struct fields in declaration order. Pointer fields are the version-gated ones: nil
// leaves the member out, while a pointer to "" still writes it.
type wireDocument struct {
	DocumentIncarnation int
	Events              []wireEvent
}

type wireEvent struct {
	EventId           string
	EventStatus       Status
	EventType         EventType
	ResourceType      string
	Resources         []string
	NotBefore         string
	Description       *string `json:",omitempty"`
	EventSource       *Source `json:",omitempty"`
	DurationInSeconds *int    `json:",omitempty"`
}

// render writes the document of events evs at incarnation for apiVersion.
func render(incarnation int, evs []Event, apiVersion string) []byte {
	v := normalizeVersion(apiVersion)
	doc := wireDocument{DocumentIncarnation: incarnation, Events: []wireEvent{}}
	for _, e := range evs {
		if v < typeSince[e.Type] {
			continue
		}
		w := wireEvent{
			EventId:      e.ID,
			EventStatus:  e.Status,
			EventType:    e.Type,
			ResourceType: resourceType,
			Resources:    e.Resources,
		}
		if v < underscoreUntil {
			w.Resources = make([]string, len(e.Resources))
			for i, r := range e.Resources {
				w.Resources[i] = "_" + r
			}
		}
		if e.Status == Scheduled {
			w.NotBefore = e.NotBefore.UTC().Format(notBeforeLayout)
		}
		if v >= descriptionSince {
			w.Description = &e.Description
		}
		if v >= eventSourceSince {
			w.EventSource = &e.Source
		}
		if v >= durationSince {
			w.DurationInSeconds = &e.DurationInSeconds
		}
		doc.Events = append(doc.Events, w)
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		// Only strings, ints and slices of them: encoding cannot fail.
		panic("events: encoding a document: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
