package events

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// sampleBook returns a book holding the event of the documentation sample (§4.5.1).
func sampleBook(t *testing.T) *Book {
	t.Helper()
	clk := newFakeClock(t0)
	b, err := NewBook("WestNO_0", clk.Now, Realistic())
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Add(Spec{
		Type:      Freeze,
		ID:        "C7061BAC-AFDC-4513-B24B-AA5F13A16123",
		Resources: []string{"WestNO_0", "WestNO_1"},
		NotBefore: time.Date(2016, 9, 19, 18, 29, 47, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDocumentGolden(t *testing.T) {
	want, err := os.ReadFile("testdata/doc-sample-2020-07-01.json")
	if err != nil {
		t.Fatal(err)
	}
	got := sampleBook(t).Document("2020-07-01")
	if !bytes.Equal(got, want) {
		t.Errorf("Document(2020-07-01) =\n%s\nwant (testdata/doc-sample-2020-07-01.json)\n%s", got, want)
	}
}

func TestDocumentEmpty(t *testing.T) {
	b, err := NewBook("vm0", newFakeClock(t0).Now, Realistic())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Versions {
		if got, want := string(b.Document(v)), `{"DocumentIncarnation":1,"Events":[]}`; got != want {
			t.Errorf("Document(%s) = %s, want %s", v, got, want)
		}
	}
}

func TestDocumentVersionFields(t *testing.T) {
	const (
		head  = `{"DocumentIncarnation":2,"Events":[{"EventId":"C7061BAC-AFDC-4513-B24B-AA5F13A16123","EventStatus":"Scheduled","EventType":"Freeze","ResourceType":"VirtualMachine",`
		names = `"Resources":["WestNO_0","WestNO_1"],"NotBefore":"Mon, 19 Sep 2016 18:29:47 GMT"`
		desc  = `,"Description":"Virtual machine is being paused because of a memory-preserving Live Migration operation."`
		src   = `,"EventSource":"Platform"`
		dur   = `,"DurationInSeconds":5`
		tail  = `}]}`
	)
	tests := []struct {
		version string
		want    string
	}{
		{"2020-07-01", head + names + desc + src + dur + tail},
		{"2019-08-01", head + names + desc + src + tail},
		{"2019-04-01", head + names + desc + tail},
		{"2019-01-01", head + names + tail},
		{"2017-11-01", head + names + tail},
		{"2017-08-01", head + names + tail},
		{"2017-03-01", head + `"Resources":["_WestNO_0","_WestNO_1"],"NotBefore":"Mon, 19 Sep 2016 18:29:47 GMT"` + tail},
		{"2099-01-01", head + names + desc + src + dur + tail}, // refused version: rendered as the newest
	}
	b := sampleBook(t)
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			if got := string(b.Document(tt.version)); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestDocumentVersionTypes(t *testing.T) {
	clk := newFakeClock(t0)
	b, err := NewBook("vm0", clk.Now, Realistic())
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []EventType{Freeze, Reboot, Redeploy, Preempt, Terminate} {
		if _, err := b.Add(Spec{Type: typ, ID: string(typ)}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		version string
		want    []EventType
	}{
		{"2020-07-01", []EventType{Freeze, Reboot, Redeploy, Preempt, Terminate}},
		{"2019-01-01", []EventType{Freeze, Reboot, Redeploy, Preempt, Terminate}},
		{"2017-11-01", []EventType{Freeze, Reboot, Redeploy, Preempt}},
		{"2017-08-01", []EventType{Freeze, Reboot, Redeploy}},
		{"2017-03-01", []EventType{Freeze, Reboot, Redeploy}},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			var doc struct {
				DocumentIncarnation int
				Events              []struct{ EventType EventType }
			}
			if err := json.Unmarshal(b.Document(tt.version), &doc); err != nil {
				t.Fatal(err)
			}
			var got []EventType
			for _, e := range doc.Events {
				got = append(got, e.EventType)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("types = %v, want %v", got, tt.want)
			}
			if doc.DocumentIncarnation != 6 {
				t.Errorf("DocumentIncarnation = %d, want 6 at every version", doc.DocumentIncarnation)
			}
		})
	}
}

func TestDocumentStartedAndFormats(t *testing.T) {
	clk := newFakeClock(time.Date(2024, 2, 29, 23, 59, 59, 0, time.FixedZone("JST", 9*3600)))
	b, err := NewBook("vm0", clk.Now, Realistic())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(Spec{Type: Reboot, ID: "started", Status: Started, Source: User}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(Spec{Type: Redeploy, ID: "tz", Delay: time.Hour, Description: `a <b> & "c" \ é` + "\u2028", DurationInSeconds: new(0)}); err != nil {
		t.Fatal(err)
	}
	want := `{"DocumentIncarnation":3,"Events":[` +
		`{"EventId":"started","EventStatus":"Started","EventType":"Reboot","ResourceType":"VirtualMachine","Resources":["vm0"],"NotBefore":"","Description":"Virtual machine is going to be restarted as requested by authorized user.","EventSource":"User","DurationInSeconds":-1},` +
		`{"EventId":"tz","EventStatus":"Scheduled","EventType":"Redeploy","ResourceType":"VirtualMachine","Resources":["vm0"],"NotBefore":"Thu, 29 Feb 2024 15:59:59 GMT","Description":"a <b> & \"c\" \\ é\u2028","EventSource":"Platform","DurationInSeconds":0}]}`
	if got := string(b.Document("2020-07-01")); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// FuzzDocument checks that any text Add accepts comes back unchanged through the JSON.
func FuzzDocument(f *testing.F) {
	f.Add("Host server is undergoing maintenance.", "vm0")
	f.Add("<&>\"\\\u2028\u2029é", "名前")
	f.Add("\x7f\x00", "\xff")
	f.Fuzz(func(t *testing.T, desc, resource string) {
		b, err := NewBook("vm0", newFakeClock(t0).Now, Fast())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Add(Spec{Type: Freeze, Description: desc, Resources: []string{resource}}); err != nil {
			return
		}
		for _, v := range Versions {
			doc := b.Document(v)
			if bytes.HasSuffix(doc, []byte("\n")) || !json.Valid(doc) {
				t.Fatalf("Document(%s) = %q: not compact valid JSON", v, doc)
			}
			var got struct {
				Events []struct {
					Resources   []string
					Description string
				}
			}
			if err := json.Unmarshal(doc, &got); err != nil {
				t.Fatal(err)
			}
			wantRes := resource
			if v < underscoreUntil {
				wantRes = "_" + resource
			}
			if len(got.Events) != 1 || got.Events[0].Resources[0] != wantRes {
				t.Fatalf("Document(%s) = %s: resource %q lost", v, doc, resource)
			}
			if v >= descriptionSince && desc != "" && got.Events[0].Description != desc {
				t.Fatalf("Document(%s) = %s: description %q lost", v, doc, desc)
			}
			if strings.Contains(string(doc), `\u003c`) {
				t.Fatalf("Document(%s) = %s: HTML-escaped", v, doc)
			}
		}
	})
}
