package notify

import (
	"net/url"
	"strings"
	"time"
)

// Acmebot's payloads (polymind-inc/acmebot, src/Acmebot.App/Notifications):
// the same texts, fields, order and date form, so receivers written against
// Acmebot keep working. Acmebot serialises with System.Text.Json, which
// escapes '+' as \u002B; the JSON here writes it plainly, which decodes to
// the same string.

const (
	acmebotCompleted = "A new certificate has been issued."
	acmebotFailed    = "Failed to issue a new certificate."
)

// acmebotDate renders t as .NET serialises a DateTimeOffset at offset zero
// ("2026-06-01T12:00:00+00:00", fractional seconds trimmed), or nil for the
// zero time.
func acmebotDate(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05.9999999-07:00")
	return &s
}

type acmebotSlackMessage struct {
	Username    string              `json:"username"`
	Attachments []acmebotAttachment `json:"attachments"`
}

type acmebotAttachment struct {
	Text   string `json:"text"`
	Color  string `json:"color"`
	Fields []any  `json:"fields"`
}

type acmebotShortField struct {
	Title string  `json:"title"`
	Value *string `json:"value"`
	Short bool    `json:"short"`
}

type acmebotField struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

func acmebotSlack(e Event) acmebotSlackMessage {
	name := e.Certificate
	names := strings.Join(e.Names, "\n")
	if e.Type == EventFailed {
		return acmebotSlackMessage{Username: "Acmebot", Attachments: []acmebotAttachment{{
			Text: acmebotFailed, Color: "danger",
			Fields: []any{
				acmebotShortField{"Certificate Name", &name, true},
				acmebotField{"DNS Names", names},
			},
		}}}
	}
	endpoint := e.ACMEEndpoint
	return acmebotSlackMessage{Username: "Acmebot", Attachments: []acmebotAttachment{{
		Text: acmebotCompleted, Color: "good",
		Fields: []any{
			acmebotShortField{"Certificate Name", &name, true},
			acmebotShortField{"Expiration Date", acmebotDate(e.NotAfter), true},
			acmebotShortField{"ACME Endpoint", &endpoint, true},
			acmebotField{"DNS Names", names},
		},
	}}}
}

type acmebotCard struct {
	Type string `json:"type"`
	Body []any  `json:"body"`
}

type acmebotTextBlock struct {
	Type string `json:"type"`
	Text string `json:"text"`
	Wrap bool   `json:"wrap"`
}

type acmebotFact struct {
	Title string  `json:"title"`
	Value *string `json:"value"`
}

type acmebotAttachmentNoURL struct {
	ContentType string      `json:"contentType"`
	Content     acmebotCard `json:"content"`
}

type acmebotTeamsMessage struct {
	Type        string                   `json:"type"`
	Attachments []acmebotAttachmentNoURL `json:"attachments"`
}

func acmebotTeams(e Event) acmebotTeamsMessage {
	name := e.Certificate
	names := strings.Join(e.Names, "\n")
	text := acmebotCompleted
	var facts []acmebotFact
	if e.Type == EventFailed {
		text = acmebotFailed
		facts = []acmebotFact{{"Certificate Name", &name}, {"DNS Names", &names}}
	} else {
		endpoint := e.ACMEEndpoint
		facts = []acmebotFact{{"Certificate Name", &name}, {"Expiration Date", acmebotDate(e.NotAfter)}, {"ACME Endpoint", &endpoint}, {"DNS Names", &names}}
	}
	return acmebotTeamsMessage{Type: "message", Attachments: []acmebotAttachmentNoURL{{
		ContentType: adaptiveContentType,
		Content: acmebotCard{Type: "AdaptiveCard", Body: []any{
			acmebotTextBlock{Type: "TextBlock", Text: text, Wrap: true},
			struct {
				Type  string        `json:"type"`
				Facts []acmebotFact `json:"facts"`
			}{"FactSet", facts},
		}},
	}}}
}

type acmebotGenericCompleted struct {
	CertificateName string   `json:"certificateName"`
	ExpirationDate  *string  `json:"expirationDate"`
	DNSNames        []string `json:"dnsNames"`
	ACMEEndpoint    string   `json:"acmeEndpoint"`
	KeyVaultName    string   `json:"keyVaultName"`
	FunctionAppName string   `json:"functionAppName"`
}

type acmebotGenericFailed struct {
	CertificateName string   `json:"certificateName"`
	DNSNames        []string `json:"dnsNames"`
	KeyVaultName    string   `json:"keyVaultName"`
	FunctionAppName string   `json:"functionAppName"`
}

func acmebotGeneric(e Event, instance string) any {
	names := e.Names
	if names == nil {
		names = []string{}
	}
	if e.Type == EventFailed {
		return acmebotGenericFailed{e.Certificate, names, vaultHost(e.Vault), instance}
	}
	return acmebotGenericCompleted{e.Certificate, acmebotDate(e.NotAfter), names, e.ACMEEndpoint, vaultHost(e.Vault), instance}
}

// vaultHost returns the host of a vault URL (Acmebot's keyVaultName), or v
// itself when it is not a URL.
func vaultHost(v string) string {
	if u, err := url.Parse(v); err == nil && u.Host != "" {
		return u.Host
	}
	return v
}
