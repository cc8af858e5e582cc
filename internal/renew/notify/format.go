package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Format is the payload format of a webhook.
type Format string

// The formats.
const (
	// FormatAuto chooses by the webhook's host, as Acmebot does: [FormatSlack]
	// for *hooks.slack.com, [FormatTeams] for *.logic.azure.com,
	// *.environment.api.powerplatform.com and *.webhook.office.com,
	// [FormatJSON] otherwise. The empty Format means FormatAuto.
	FormatAuto Format = "auto"

	// FormatJSON is tegata's own envelope. Its field names are stable:
	//
	//	{
	//	  "id":      "<event id>",
	//	  "type":    "certificate.renewed",          // an EventType
	//	  "time":    "2026-06-01T12:00:00Z",         // RFC 3339, UTC
	//	  "subject": "<certificate name>",
	//	  "data": {
	//	    "summary":      "<one line>",            // Event.Summary
	//	    "certificate":  "<certificate name>",
	//	    "dnsNames":     ["…"],                   // always present, maybe []
	//	    "vault":        "<vault>",               // omitted when empty
	//	    "notAfter":     "<RFC 3339, UTC>",       // omitted when unknown
	//	    "version":      "<vault version>",       // omitted when empty
	//	    "acmeEndpoint": "<directory host>",      // omitted when empty
	//	    "error":        "<message>",             // omitted when empty
	//	    "instance":     "<tegata instance>"      // omitted when empty
	//	  }
	//	}
	FormatJSON Format = "tegata"

	// FormatSlack is a Slack incoming-webhook message: "text" (the summary,
	// also the notification fallback) and two "blocks", the summary and a
	// section of fields.
	FormatSlack Format = "slack"

	// FormatTeams is a Microsoft Teams Workflows message,
	// {"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive",…}]},
	// whose Adaptive Card holds the summary in a TextBlock and the details
	// in a FactSet.
	FormatTeams Format = "teams"

	// FormatAcmebotSlack, FormatAcmebotTeams and FormatAcmebotGeneric are the
	// payloads of Key Vault Acmebot, for receivers written against it. They
	// carry only [EventIssued], [EventRenewed] (Acmebot's "completed") and
	// [EventFailed]; other events are not sent to such webhooks.
	FormatAcmebotSlack   Format = "acmebot-slack"
	FormatAcmebotTeams   Format = "acmebot-teams"
	FormatAcmebotGeneric Format = "acmebot-generic"
)

// Formats lists every format.
var Formats = []Format{FormatAuto, FormatJSON, FormatSlack, FormatTeams, FormatAcmebotSlack, FormatAcmebotTeams, FormatAcmebotGeneric}

// ParseFormat returns the Format named s; the empty string is [FormatAuto].
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return FormatAuto, nil
	}
	for _, f := range Formats {
		if Format(s) == f {
			return f, nil
		}
	}
	return "", fmt.Errorf("notify: unknown webhook format %q; use one of auto, tegata, slack, teams, acmebot-slack, acmebot-teams, acmebot-generic", s)
}

// Resolve returns the concrete format for a webhook at u: f itself, or for
// [FormatAuto] (and the empty Format) the one chosen by u's host.
func (f Format) Resolve(u *url.URL) Format {
	if f != FormatAuto && f != "" {
		return f
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case strings.HasSuffix(host, "hooks.slack.com"):
		return FormatSlack
	case strings.HasSuffix(host, ".logic.azure.com"),
		strings.HasSuffix(host, ".environment.api.powerplatform.com"),
		strings.HasSuffix(host, ".webhook.office.com"):
		return FormatTeams
	}
	return FormatJSON
}

// Supports reports whether a concrete format can carry events of type t.
func (f Format) Supports(t EventType) bool {
	switch f {
	case FormatAcmebotSlack, FormatAcmebotTeams, FormatAcmebotGeneric:
		return t == EventIssued || t == EventRenewed || t == EventFailed
	}
	return true
}

// Encode returns the payload of e in the concrete format f. instance names
// the tegata instance (Acmebot's functionAppName).
func (f Format) Encode(e Event, instance string) ([]byte, error) {
	if !f.Supports(e.Type) {
		return nil, fmt.Errorf("notify: format %s cannot carry %s events", f, e.Type)
	}
	var v any
	switch f {
	case FormatJSON:
		v = tegataPayload(e, instance)
	case FormatSlack:
		v = slackPayload(e)
	case FormatTeams:
		v = teamsPayload(e)
	case FormatAcmebotSlack:
		v = acmebotSlack(e)
	case FormatAcmebotTeams:
		v = acmebotTeams(e)
	case FormatAcmebotGeneric:
		v = acmebotGeneric(e, instance)
	default:
		return nil, fmt.Errorf("notify: cannot encode format %q", f)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("notify: encoding %s payload: %w", f, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

type tegataEnvelope struct {
	ID      string     `json:"id"`
	Type    EventType  `json:"type"`
	Time    time.Time  `json:"time"`
	Subject string     `json:"subject"`
	Data    tegataData `json:"data"`
}

type tegataData struct {
	Summary      string    `json:"summary"`
	Certificate  string    `json:"certificate"`
	DNSNames     []string  `json:"dnsNames"`
	Vault        string    `json:"vault,omitempty"`
	NotAfter     time.Time `json:"notAfter,omitzero"`
	Version      string    `json:"version,omitempty"`
	ACMEEndpoint string    `json:"acmeEndpoint,omitempty"`
	Error        string    `json:"error,omitempty"`
	Instance     string    `json:"instance,omitempty"`
}

func tegataPayload(e Event, instance string) tegataEnvelope {
	names := e.Names
	if names == nil {
		names = []string{}
	}
	return tegataEnvelope{
		ID: e.ID, Type: e.Type, Time: e.Time.UTC(), Subject: e.Certificate,
		Data: tegataData{
			Summary: e.Summary(), Certificate: e.Certificate, DNSNames: names, Vault: e.Vault,
			NotAfter: e.NotAfter.UTC(), Version: e.Version, ACMEEndpoint: e.ACMEEndpoint,
			Error: e.Error, Instance: instance,
		},
	}
}

// fact is one labelled detail of an event, shown by the Slack and Teams formats.
type fact struct{ title, value string }

// facts returns the non-empty details of e in display order.
func facts(e Event) []fact {
	var fs []fact
	add := func(title, value string) {
		if value != "" {
			fs = append(fs, fact{title, value})
		}
	}
	add("Certificate", e.Certificate)
	add("Vault", e.Vault)
	add("DNS Names", strings.Join(e.Names, ", "))
	if !e.NotAfter.IsZero() {
		add("Expires", humanTime(e.NotAfter))
	}
	add("Version", e.Version)
	add("ACME Endpoint", e.ACMEEndpoint)
	add("Error", e.Error)
	add("Event", string(e.Type))
	return fs
}

// Slack limits: section text 3000 characters, field text 2000, 10 fields.
const (
	slackTextMax  = 3000
	slackFieldMax = 2000
)

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type   string      `json:"type"`
	Text   *slackText  `json:"text,omitempty"`
	Fields []slackText `json:"fields,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slackPayload(e Event) slackMessage {
	summary := e.Summary()
	m := slackMessage{
		Text:   slackEscape.Replace(summary),
		Blocks: []slackBlock{{Type: "section", Text: &slackText{"mrkdwn", truncate(slackEscape.Replace(summary), slackTextMax)}}},
	}
	var fields []slackText
	for _, f := range facts(e) {
		fields = append(fields, slackText{"mrkdwn", truncate("*"+f.title+"*\n"+slackEscape.Replace(f.value), slackFieldMax)})
	}
	if len(fields) > 0 {
		m.Blocks = append(m.Blocks, slackBlock{Type: "section", Fields: fields})
	}
	return m
}

// truncate shortens s to at most max bytes at a rune boundary, ending in "…".
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string  `json:"contentType"`
	ContentURL  *string `json:"contentUrl"`
	Content     any     `json:"content"`
}

type adaptiveCard struct {
	Schema  string `json:"$schema"`
	Type    string `json:"type"`
	Version string `json:"version"`
	Body    []any  `json:"body"`
}

type textBlock struct {
	Type   string `json:"type"`
	Text   string `json:"text"`
	Weight string `json:"weight,omitempty"`
	Wrap   bool   `json:"wrap"`
}

type factSet struct {
	Type  string      `json:"type"`
	Facts []teamsFact `json:"facts"`
}

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// adaptiveContentType is the attachment content type of an Adaptive Card.
const adaptiveContentType = "application/vnd.microsoft.card.adaptive"

func teamsPayload(e Event) teamsMessage {
	body := []any{textBlock{Type: "TextBlock", Text: e.Summary(), Weight: "Bolder", Wrap: true}}
	var fs []teamsFact
	for _, f := range facts(e) {
		fs = append(fs, teamsFact{f.title, f.value})
	}
	if len(fs) > 0 {
		body = append(body, factSet{Type: "FactSet", Facts: fs})
	}
	return teamsMessage{Type: "message", Attachments: []teamsAttachment{{
		ContentType: adaptiveContentType,
		Content: adaptiveCard{
			Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4", Body: body,
		},
	}}}
}
