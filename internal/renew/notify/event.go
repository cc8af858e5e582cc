package notify

import (
	"fmt"
	"strings"
	"time"
)

// EventType names what happened. The values are stable: they appear in
// payloads and in webhook event filters.
type EventType string

// The event types.
const (
	// EventIssued: a certificate was issued for the first time.
	EventIssued EventType = "certificate.issued"
	// EventRenewed: a new version of a certificate was issued.
	EventRenewed EventType = "certificate.renewed"
	// EventFailed: an issuance or renewal attempt failed.
	EventFailed EventType = "certificate.failed"
	// EventOverdue: renewal is overdue (less than lifetime/3 remains and the
	// last attempt failed).
	EventOverdue EventType = "renewal.overdue"
	// EventExpiring: the certificate expires soon and has not been renewed.
	EventExpiring EventType = "certificate.expiring"
	// EventExpired: the certificate has expired.
	EventExpired EventType = "certificate.expired"
	// EventRevoked: the certificate was revoked.
	EventRevoked EventType = "certificate.revoked"
	// EventDeleted: the certificate is no longer managed.
	EventDeleted EventType = "certificate.deleted"
)

// EventTypes lists every event type.
var EventTypes = []EventType{EventIssued, EventRenewed, EventFailed, EventOverdue, EventExpiring, EventExpired, EventRevoked, EventDeleted}

// Known reports whether t is one of [EventTypes].
func (t EventType) Known() bool {
	for _, k := range EventTypes {
		if t == k {
			return true
		}
	}
	return false
}

// Event is one thing that happened to a managed certificate.
type Event struct {
	// ID identifies the event; [Notifier.Send] fills a random one when empty.
	ID string
	// Type is what happened.
	Type EventType
	// Certificate is the certificate's name in its vault.
	Certificate string
	// Vault is the target vault, as a URL (https://name.vault.example) or a name.
	Vault string
	// Names are the DNS names (and IP addresses) of the certificate.
	Names []string
	// NotAfter is the expiry of the certificate version concerned; zero if unknown.
	NotAfter time.Time
	// Version is the vault version of the certificate concerned, if any.
	Version string
	// ACMEEndpoint is the host of the ACME directory (Acmebot's "ACME Endpoint").
	ACMEEndpoint string
	// Error describes the failure for failed, overdue and expiring events.
	Error string
	// Time is when it happened; [Notifier.Send] fills the current time when zero.
	Time time.Time
}

// maxSummaryError bounds the error text quoted in a summary, in bytes.
const maxSummaryError = 300

// Summary returns a one-line, human-readable sentence describing e, such as
//
//	Certificate "www" expires in 2 days (2026-06-01 12:00 UTC) and renewal is failing: DNS record not visible.
//
// Durations count from e.Time. Newlines in names and errors become spaces and
// long errors are shortened, so the result is always a single line.
func (e Event) Summary() string {
	name := fmt.Sprintf("Certificate %q", oneLine(e.Certificate, 200))
	if ns := namesList(e.Names); ns != "" {
		name += " for " + ns
	}
	expires := ""
	if !e.NotAfter.IsZero() {
		expires = humanTime(e.NotAfter)
	}
	errText := oneLine(e.Error, maxSummaryError)
	var b strings.Builder
	switch e.Type {
	case EventIssued, EventRenewed:
		b.WriteString(name)
		if e.Type == EventIssued {
			b.WriteString(" was issued")
		} else {
			b.WriteString(" was renewed")
		}
		var extra []string
		if e.Version != "" {
			extra = append(extra, "version "+oneLine(e.Version, 100))
		}
		if expires != "" {
			extra = append(extra, "expires "+expires)
		}
		if len(extra) > 0 {
			b.WriteString(" (" + strings.Join(extra, ", ") + ")")
		}
	case EventFailed:
		b.WriteString(name + " could not be issued")
		if errText != "" {
			b.WriteString(": " + errText)
		}
	case EventOverdue:
		b.WriteString(name + " is overdue for renewal")
		if expires != "" {
			b.WriteString("; it expires in " + humanDuration(e.NotAfter.Sub(e.Time)) + " (" + expires + ")")
		}
		if errText != "" {
			b.WriteString("; last error: " + errText)
		}
	case EventExpiring:
		b.WriteString(name)
		if expires != "" {
			b.WriteString(" expires in " + humanDuration(e.NotAfter.Sub(e.Time)) + " (" + expires + ")")
		} else {
			b.WriteString(" expires soon")
		}
		if errText != "" {
			b.WriteString(" and renewal is failing: " + errText)
		} else {
			b.WriteString(" and has not been renewed")
		}
	case EventExpired:
		b.WriteString(name + " has expired")
		if expires != "" {
			b.WriteString(" (" + expires + ")")
		}
	case EventRevoked:
		b.WriteString(name + " was revoked")
		if e.Version != "" {
			b.WriteString(" (version " + oneLine(e.Version, 100) + ")")
		}
	case EventDeleted:
		b.WriteString(name + " is no longer managed")
	default:
		b.WriteString(name + ": " + oneLine(string(e.Type), 100))
		if errText != "" {
			b.WriteString(": " + errText)
		}
	}
	s := b.String()
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// namesList returns up to three names joined by commas, then "(+N more)".
func namesList(names []string) string {
	const show = 3
	var parts []string
	for i, n := range names {
		if i == show {
			parts[show-1] += fmt.Sprintf(" (+%d more)", len(names)-show)
			break
		}
		parts = append(parts, oneLine(n, 255))
	}
	return strings.Join(parts, ", ")
}

// oneLine replaces control characters in s by spaces, trims it and shortens
// it to at most max bytes (cut at a rune boundary, with "…").
func oneLine(s string, max int) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s))
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// utf8Start reports whether b starts a UTF-8 sequence.
func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// humanTime formats t as "2006-01-02 15:04 UTC".
func humanTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// humanDuration renders d coarsely: "N days" from 2 days, "N hours" from 2
// hours, "N minutes" from 2 minutes, else "less than 2 minutes".
func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return "less than 2 minutes"
}
