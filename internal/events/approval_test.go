package events

import (
	"slices"
	"strings"
	"testing"
)

func TestParseStartRequests(t *testing.T) {
	const guid = "C7061BAC-AFDC-4513-B24B-AA5F13A16123"
	many := func(n int) string {
		reqs := make([]string, n)
		for i := range reqs {
			reqs[i] = `{"EventId":"` + guid + `"}`
		}
		return `{"StartRequests":[` + strings.Join(reqs, ",") + `]}`
	}
	tests := []struct {
		name    string
		body    string
		want    []string
		wantErr string // a part of the message; "" for success
	}{
		{"documentation", `{"StartRequests":[{"EventId":"` + guid + `"}]}`, []string{guid}, ""},
		{"several", `{"StartRequests":[{"EventId":"a-1"},{"EventId":"B_2"}]}`, []string{"a-1", "B_2"}, ""},
		{"spaced and lower case", " {\n \"StartRequests\" : [ { \"EventId\" : \"c7061bac-afdc-4513-b24b-aa5f13a16123\" } ] }\n", []string{"c7061bac-afdc-4513-b24b-aa5f13a16123"}, ""},
		{"member names in other case", `{"startrequests":[{"eventid":"x"}]}`, []string{"x"}, ""},
		{"unknown members ignored", `{"StartRequests":[{"EventId":"x","Extra":1}],"More":true}`, []string{"x"}, ""},
		{"empty list", `{"StartRequests":[]}`, []string{}, ""},
		{"at the bound", many(MaxStartRequests), slices.Repeat([]string{guid}, MaxStartRequests), ""},
		{"id at the length bound", `{"StartRequests":[{"EventId":"` + strings.Repeat("a", MaxIDLength) + `"}]}`, []string{strings.Repeat("a", MaxIDLength)}, ""},

		{"empty body", "", nil, "approval body is empty"},
		{"blank body", " \n", nil, "approval body is empty"},
		{"too large", `{"StartRequests":[]}` + strings.Repeat(" ", MaxRequestBody), nil, "send at most 65536 bytes"},
		{"not JSON", `StartRequests=x`, nil, "approval body is not valid JSON (byte 1"},
		{"truncated", `{"StartRequests":[{"EventId":"x"}`, nil, "not valid JSON"},
		{"trailing data", `{"StartRequests":[]} {}`, nil, "not valid JSON"},
		{"array body", `[{"EventId":"x"}]`, nil, "approval body must be a JSON object"},
		{"null body", `null`, nil, "has no StartRequests"},
		{"no StartRequests", `{}`, nil, "has no StartRequests"},
		{"null StartRequests", `{"StartRequests":null}`, nil, "has no StartRequests"},
		{"StartRequests object", `{"StartRequests":{"EventId":"x"}}`, nil, "StartRequests must be an array"},
		{"too many", many(MaxStartRequests + 1), nil, "StartRequests has 101 entries"},
		{"string entry", `{"StartRequests":["x"]}`, nil, "StartRequests[0] must be an object"},
		{"null entry", `{"StartRequests":[{"EventId":"x"},null]}`, nil, "StartRequests[1] must be an object"},
		{"no EventId", `{"StartRequests":[{"Id":"x"}]}`, nil, "StartRequests[0] has no EventId"},
		{"null EventId", `{"StartRequests":[{"EventId":null}]}`, nil, "StartRequests[0] has no EventId"},
		{"number EventId", `{"StartRequests":[{"EventId":12}]}`, nil, "StartRequests[0].EventId must be a string"},
		{"empty EventId", `{"StartRequests":[{"EventId":""}]}`, nil, "StartRequests[0].EventId is empty"},
		{"long EventId", `{"StartRequests":[{"EventId":"` + strings.Repeat("a", MaxIDLength+1) + `"}]}`, nil, "EventId is 65 bytes long"},
		{"braced GUID", `{"StartRequests":[{"EventId":"{` + guid + `}"}]}`, nil, `contains '{'`},
		{"escaped control", `{"StartRequests":[{"EventId":"a\u0000b"}]}`, nil, `contains '\x00'`},
		{"invalid UTF-8", "{\"StartRequests\":[{\"EventId\":\"a\xffb\"}]}", nil, `contains '\ufffd'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStartRequests([]byte(tt.body))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if got == nil || !slices.Equal(got, tt.want) {
					t.Errorf("ids = %q, want %q", got, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want it to contain %q", err, tt.wantErr)
			}
			if got != nil {
				t.Errorf("ids = %q with an error, want nil", got)
			}
		})
	}
}

// TestParseThenApprove joins the two halves of a POST: the ids a client echoes, in
// either case, approve the events it read.
func TestParseThenApprove(t *testing.T) {
	b, _ := newTestBook(t, Realistic())
	e, err := b.Add(Spec{Type: Freeze})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ParseStartRequests([]byte(`{"StartRequests":[{"EventId":"` + strings.ToLower(e.ID) + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Approve(ids); err != nil {
		t.Fatal(err)
	}
	if got := b.Events()[0].Status; got != Started {
		t.Errorf("status after approval = %s, want Started", got)
	}
}

func FuzzParseStartRequests(f *testing.F) {
	for _, seed := range []string{
		`{"StartRequests":[{"EventId":"C7061BAC-AFDC-4513-B24B-AA5F13A16123"}]}`,
		`{"StartRequests":[{"EventId":"a"},{"EventId":"b"}]}`,
		`{"StartRequests":[]}`,
		`{"StartRequests":null}`,
		`{"StartRequests":[null]}`,
		`{"StartRequests":[{"EventId":1}]}`,
		`[]`,
		``,
		`{"StartRequests":[{"EventId":"\ud800"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ids, err := ParseStartRequests(body)
		if err != nil {
			if ids != nil {
				t.Fatalf("ids %q returned with error %v", ids, err)
			}
			return
		}
		if len(ids) > MaxStartRequests {
			t.Fatalf("%d ids accepted, bound is %d", len(ids), MaxStartRequests)
		}
		for _, id := range ids {
			if err := checkID(id); err != nil {
				t.Fatalf("accepted id %q: %v", id, err)
			}
		}
	})
}
