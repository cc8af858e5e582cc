package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Bounds on an approval (POST /metadata/scheduledevents) body. A real client approves
// the handful of events it has just read, so these are generous yet keep a hostile
// body from costing much.
const (
	// MaxRequestBody is the largest approval body in bytes (64 KiB). A handler should
	// read at most MaxRequestBody+1 bytes and let ParseStartRequests refuse the rest.
	MaxRequestBody = 64 << 10
	// MaxStartRequests is the most EventIds one approval may name (MaxEvents of one VM).
	MaxStartRequests = MaxEvents
	// MaxIDLength is the longest EventId in bytes; a GUID has 36.
	MaxIDLength = 64
)

// startRequestsExample is quoted by errors so that the fix is in the message.
const startRequestsExample = `{"StartRequests":[{"EventId":"..."}]}`

// ParseStartRequests parses the body of an approval,
//
//	{"StartRequests":[{"EventId":"C7061BAC-AFDC-4513-B24B-AA5F13A16123"}]}
//
// and returns the EventIds in body order, duplicates included (approval is idempotent).
// Member names match case-insensitively and unknown members are ignored, as a lenient
// JSON reader would. An empty StartRequests array approves nothing and is not an error.
//
// Errors describe the first problem found: a body over [MaxRequestBody], invalid JSON,
// a missing or mistyped member, more than [MaxStartRequests] ids, or an id that is not
// 1 to [MaxIDLength] letters, digits, '-' or '_'. Whether the ids are current events is
// for [Book.Approve] to say.
func ParseStartRequests(body []byte) ([]string, error) {
	if len(body) > MaxRequestBody {
		return nil, fmt.Errorf("events: approval body is %d bytes or more: send at most %d bytes", len(body), MaxRequestBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, fmt.Errorf("events: approval body is empty: send %s", startRequestsExample)
	}

	var top struct{ StartRequests json.RawMessage }
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, decodeError("approval body", "a JSON object like "+startRequestsExample, err)
	}
	if isNull(top.StartRequests) {
		return nil, fmt.Errorf("events: approval body has no StartRequests: send %s", startRequestsExample)
	}

	var reqs []json.RawMessage
	if err := json.Unmarshal(top.StartRequests, &reqs); err != nil {
		return nil, decodeError("StartRequests", `an array like [{"EventId":"..."}]`, err)
	}
	if len(reqs) > MaxStartRequests {
		return nil, fmt.Errorf("events: StartRequests has %d entries: send at most %d per request", len(reqs), MaxStartRequests)
	}

	ids := make([]string, 0, len(reqs))
	for i, raw := range reqs {
		where := fmt.Sprintf("StartRequests[%d]", i)
		var req struct{ EventId json.RawMessage }
		if err := json.Unmarshal(raw, &req); err != nil || isNull(raw) {
			return nil, decodeError(where, `an object like {"EventId":"..."}`, err)
		}
		if isNull(req.EventId) {
			return nil, fmt.Errorf("events: %s has no EventId: send %s", where, startRequestsExample)
		}
		var id string
		if err := json.Unmarshal(req.EventId, &id); err != nil {
			return nil, decodeError(where+".EventId", "a string", err)
		}
		if err := checkID(id); err != nil {
			return nil, fmt.Errorf("events: %s.EventId %w", where, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// decodeError explains a failed json.Unmarshal of what, which should have been want.
// A type mismatch is reported in JSON's words, not Go's.
func decodeError(what, want string, err error) error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Errorf("events: %s is not valid JSON (byte %d: %v): send %s", what, syntax.Offset, err, startRequestsExample)
	}
	return fmt.Errorf("events: %s must be %s", what, want)
}

// isNull reports whether a member was absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// checkID checks the form of an EventId; the error says what is wrong, not which field.
// The alphabet is wider than a GUID's so that operators can name test events
// ("reboot-1"), and narrow enough that an id never needs escaping anywhere.
func checkID(id string) error {
	if id == "" {
		return errors.New(`is empty: give the EventId from GET /metadata/scheduledevents`)
	}
	if len(id) > MaxIDLength {
		return fmt.Errorf("is %d bytes long: an EventId has at most %d", len(id), MaxIDLength)
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '-' || r == '_') {
			return fmt.Errorf("%+q contains %+q: an EventId has only letters, digits, '-' and '_' (a GUID)", id, r)
		}
	}
	return nil
}
