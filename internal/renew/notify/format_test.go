package notify

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/renew/schedule"
)

// renewed and failed are the events of the golden payloads.
var (
	renewed = Event{
		ID: "9f86d081884c7d659a2feaa0c55ad015", Type: EventRenewed, Certificate: "www-example-com",
		Vault: "https://kv1.vault.tegata.test", Names: []string{"www.example.com", "example.com"},
		NotAfter: time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC), Version: "4b1c0e7f",
		ACMEEndpoint: "acme-v02.api.letsencrypt.org", Time: time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC),
	}
	failed = Event{
		ID: "9f86d081884c7d659a2feaa0c55ad015", Type: EventFailed, Certificate: "www-example-com",
		Vault: "https://kv1.vault.tegata.test", Names: []string{"www.example.com", "example.com"},
		ACMEEndpoint: "acme-v02.api.letsencrypt.org", Time: time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC),
		Error: "DNS problem: NXDOMAIN looking up TXT for _acme-challenge.www.example.com <&>",
	}
)

func TestGoldenPayloads(t *testing.T) {
	tests := []struct {
		format Format
		event  Event
		want   string
	}{
		{FormatJSON, renewed, `{"id":"9f86d081884c7d659a2feaa0c55ad015","type":"certificate.renewed","time":"2026-06-03T12:00:00Z","subject":"www-example-com","data":{"summary":"Certificate \"www-example-com\" for www.example.com, example.com was renewed (version 4b1c0e7f, expires 2026-09-01 12:00 UTC).","certificate":"www-example-com","dnsNames":["www.example.com","example.com"],"vault":"https://kv1.vault.tegata.test","notAfter":"2026-09-01T12:00:00Z","version":"4b1c0e7f","acmeEndpoint":"acme-v02.api.letsencrypt.org","instance":"tegata-1"}}`},
		{FormatJSON, failed, `{"id":"9f86d081884c7d659a2feaa0c55ad015","type":"certificate.failed","time":"2026-06-03T12:00:00Z","subject":"www-example-com","data":{"summary":"Certificate \"www-example-com\" for www.example.com, example.com could not be issued: DNS problem: NXDOMAIN looking up TXT for _acme-challenge.www.example.com <&>.","certificate":"www-example-com","dnsNames":["www.example.com","example.com"],"vault":"https://kv1.vault.tegata.test","acmeEndpoint":"acme-v02.api.letsencrypt.org","error":"DNS problem: NXDOMAIN looking up TXT for _acme-challenge.www.example.com <&>","instance":"tegata-1"}}`},
		{FormatJSON, Event{ID: "x", Type: EventDeleted, Certificate: "c", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("JST", 9*3600))}, `{"id":"x","type":"certificate.deleted","time":"2026-01-01T18:04:05Z","subject":"c","data":{"summary":"Certificate \"c\" is no longer managed.","certificate":"c","dnsNames":[],"instance":"tegata-1"}}`},
		{FormatSlack, renewed, `{"text":"Certificate \"www-example-com\" for www.example.com, example.com was renewed (version 4b1c0e7f, expires 2026-09-01 12:00 UTC).","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"Certificate \"www-example-com\" for www.example.com, example.com was renewed (version 4b1c0e7f, expires 2026-09-01 12:00 UTC)."}},{"type":"section","fields":[{"type":"mrkdwn","text":"*Certificate*\nwww-example-com"},{"type":"mrkdwn","text":"*Vault*\nhttps://kv1.vault.tegata.test"},{"type":"mrkdwn","text":"*DNS Names*\nwww.example.com, example.com"},{"type":"mrkdwn","text":"*Expires*\n2026-09-01 12:00 UTC"},{"type":"mrkdwn","text":"*Version*\n4b1c0e7f"},{"type":"mrkdwn","text":"*ACME Endpoint*\nacme-v02.api.letsencrypt.org"},{"type":"mrkdwn","text":"*Event*\ncertificate.renewed"}]}]}`},
		{FormatSlack, failed, `{"text":"Certificate \"www-example-com\" for www.example.com, example.com could not be issued: DNS problem: NXDOMAIN looking up TXT for _acme-challenge.www.example.com &lt;&amp;&gt;.","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"Certificate \"www-example-com\" for www.example.com, example.com could not be issued: DNS problem: NXDOMAIN looking up TXT for _acme-challenge.www.example.com &lt;&amp;&gt;."}},{"type":"section","fields":[{"type":"mrkdwn","text":"*Certificate*\nwww-example-com"},{"type":"mrkdwn","text":"*Vault*\nhttps://kv1.vault.tegata.test"},{"type":"mrkdwn","text":"*DNS Names*\nwww.example.com, example.com"},{"type":"mrkdwn","text":"*ACME Endpoint*\nacme-v02.api.letsencrypt.org"},{"type":"mrkdwn","text":"*Error*\nDNS problem: NXDOMAIN looking up TXT for _acme-challenge.www.example.com &lt;&amp;&gt;"},{"type":"mrkdwn","text":"*Event*\ncertificate.failed"}]}]}`},
		{FormatTeams, renewed, `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","text":"Certificate \"www-example-com\" for www.example.com, example.com was renewed (version 4b1c0e7f, expires 2026-09-01 12:00 UTC).","weight":"Bolder","wrap":true},{"type":"FactSet","facts":[{"title":"Certificate","value":"www-example-com"},{"title":"Vault","value":"https://kv1.vault.tegata.test"},{"title":"DNS Names","value":"www.example.com, example.com"},{"title":"Expires","value":"2026-09-01 12:00 UTC"},{"title":"Version","value":"4b1c0e7f"},{"title":"ACME Endpoint","value":"acme-v02.api.letsencrypt.org"},{"title":"Event","value":"certificate.renewed"}]}]}}]}`},
		{FormatTeams, failed, `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","text":"Certificate \"www-example-com\" for www.example.com, example.com could not be issued: DNS problem: NXDOMAIN looking up TXT for _acme-challenge.www.example.com <&>.","weight":"Bolder","wrap":true},{"type":"FactSet","facts":[{"title":"Certificate","value":"www-example-com"},{"title":"Vault","value":"https://kv1.vault.tegata.test"},{"title":"DNS Names","value":"www.example.com, example.com"},{"title":"ACME Endpoint","value":"acme-v02.api.letsencrypt.org"},{"title":"Error","value":"DNS problem: NXDOMAIN looking up TXT for _acme-challenge.www.example.com <&>"},{"title":"Event","value":"certificate.failed"}]}]}}]}`},
		{FormatAcmebotSlack, renewed, `{"username":"Acmebot","attachments":[{"text":"A new certificate has been issued.","color":"good","fields":[{"title":"Certificate Name","value":"www-example-com","short":true},{"title":"Expiration Date","value":"2026-09-01T12:00:00+00:00","short":true},{"title":"ACME Endpoint","value":"acme-v02.api.letsencrypt.org","short":true},{"title":"DNS Names","value":"www.example.com\nexample.com"}]}]}`},
		{FormatAcmebotSlack, failed, `{"username":"Acmebot","attachments":[{"text":"Failed to issue a new certificate.","color":"danger","fields":[{"title":"Certificate Name","value":"www-example-com","short":true},{"title":"DNS Names","value":"www.example.com\nexample.com"}]}]}`},
		{FormatAcmebotTeams, renewed, `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"A new certificate has been issued.","wrap":true},{"type":"FactSet","facts":[{"title":"Certificate Name","value":"www-example-com"},{"title":"Expiration Date","value":"2026-09-01T12:00:00+00:00"},{"title":"ACME Endpoint","value":"acme-v02.api.letsencrypt.org"},{"title":"DNS Names","value":"www.example.com\nexample.com"}]}]}}]}`},
		{FormatAcmebotTeams, failed, `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","body":[{"type":"TextBlock","text":"Failed to issue a new certificate.","wrap":true},{"type":"FactSet","facts":[{"title":"Certificate Name","value":"www-example-com"},{"title":"DNS Names","value":"www.example.com\nexample.com"}]}]}}]}`},
		{FormatAcmebotGeneric, renewed, `{"certificateName":"www-example-com","expirationDate":"2026-09-01T12:00:00+00:00","dnsNames":["www.example.com","example.com"],"acmeEndpoint":"acme-v02.api.letsencrypt.org","keyVaultName":"kv1.vault.tegata.test","functionAppName":"tegata-1"}`},
		{FormatAcmebotGeneric, failed, `{"certificateName":"www-example-com","dnsNames":["www.example.com","example.com"],"keyVaultName":"kv1.vault.tegata.test","functionAppName":"tegata-1"}`},
		{FormatAcmebotGeneric, Event{Type: EventIssued, Certificate: "c", Vault: "kv2"}, `{"certificateName":"c","expirationDate":null,"dnsNames":[],"acmeEndpoint":"","keyVaultName":"kv2","functionAppName":"tegata-1"}`},
	}
	for _, tt := range tests {
		t.Run(string(tt.format)+"/"+string(tt.event.Type), func(t *testing.T) {
			got, err := tt.format.Encode(tt.event, "tegata-1")
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("payload:\n got %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Error("not valid JSON")
			}
		})
	}
}

func TestAcmebotFormatsCarryOnlyCompletedAndFailed(t *testing.T) {
	for _, f := range []Format{FormatAcmebotSlack, FormatAcmebotTeams, FormatAcmebotGeneric} {
		for _, typ := range EventTypes {
			want := typ == EventIssued || typ == EventRenewed || typ == EventFailed
			if f.Supports(typ) != want {
				t.Errorf("%s supports %s = %v, want %v", f, typ, !want, want)
			}
			_, err := f.Encode(Event{Type: typ}, "")
			if (err == nil) != want {
				t.Errorf("%s encoding %s: err = %v", f, typ, err)
			}
		}
	}
	for _, f := range []Format{FormatJSON, FormatSlack, FormatTeams} {
		for _, typ := range append(EventTypes, "agent.deployed") {
			if _, err := f.Encode(Event{Type: typ}, ""); err != nil {
				t.Errorf("%s encoding %s: %v", f, typ, err)
			}
		}
	}
	if _, err := FormatAuto.Encode(renewed, ""); err == nil {
		t.Error("auto is not a concrete format and must not encode")
	}
}

func TestResolveFormat(t *testing.T) {
	tests := []struct {
		url    string
		format Format
		want   Format
	}{
		{"https://hooks.slack.com/services/T/B/x", FormatAuto, FormatSlack},
		{"https://HOOKS.SLACK.COM/services/T/B/x", "", FormatSlack},
		{"https://prod-12.westeurope.logic.azure.com:443/workflows/x/triggers/manual/paths/invoke?sig=y", FormatAuto, FormatTeams},
		{"https://default1234.ab.environment.api.powerplatform.com/powerautomate/automations/direct/x", FormatAuto, FormatTeams},
		{"https://contoso.webhook.office.com/webhookb2/x", FormatAuto, FormatTeams},
		{"https://example.com/hook", FormatAuto, FormatJSON},
		{"https://notslack.com.evil.example/", FormatAuto, FormatJSON},
		{"https://hooks.slack.com/services/T/B/x", FormatAcmebotSlack, FormatAcmebotSlack},
		{"https://example.com/hook", FormatTeams, FormatTeams},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := tt.format.Resolve(u); got != tt.want {
			t.Errorf("%q.Resolve(%s) = %q, want %q", tt.format, u.Host, got, tt.want)
		}
	}
	for _, f := range Formats {
		if g, err := ParseFormat(string(f)); err != nil || g != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, g, err)
		}
	}
	if f, err := ParseFormat(""); err != nil || f != FormatAuto {
		t.Errorf("ParseFormat(\"\") = %q, %v", f, err)
	}
	if _, err := ParseFormat("office365"); err == nil || !strings.Contains(err.Error(), "acmebot-generic") {
		t.Errorf("ParseFormat(office365) error = %v, want the list of formats", err)
	}
}

func TestSummaries(t *testing.T) {
	at := time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)
	base := Event{Certificate: "api", Names: []string{"api.example.com"}, Time: at, NotAfter: at.Add(50 * time.Hour), Version: "v7"}
	tests := []struct {
		typ   EventType
		err   string
		names []string
		after time.Duration // NotAfter − Time; 0 keeps 50h
		want  string
	}{
		{EventIssued, "", nil, 0, `Certificate "api" for api.example.com was issued (version v7, expires 2026-06-05 14:00 UTC).`},
		{EventRenewed, "", []string{"a.example", "b.example", "c.example", "d.example", "e.example"}, 0, `Certificate "api" for a.example, b.example, c.example (+2 more) was renewed (version v7, expires 2026-06-05 14:00 UTC).`},
		{EventFailed, "caa: CAA record forbids issuance\nretry later", nil, 0, `Certificate "api" for api.example.com could not be issued: caa: CAA record forbids issuance retry later.`},
		{EventOverdue, "dns: timeout", nil, 0, `Certificate "api" for api.example.com is overdue for renewal; it expires in 2 days (2026-06-05 14:00 UTC); last error: dns: timeout.`},
		{EventExpiring, "dns: timeout", nil, 0, `Certificate "api" for api.example.com expires in 2 days (2026-06-05 14:00 UTC) and renewal is failing: dns: timeout.`},
		{EventExpiring, "", nil, 20 * time.Hour, `Certificate "api" for api.example.com expires in 20 hours (2026-06-04 08:00 UTC) and has not been renewed.`},
		{EventExpiring, "", nil, 90 * time.Minute, `Certificate "api" for api.example.com expires in 90 minutes (2026-06-03 13:30 UTC) and has not been renewed.`},
		{EventExpiring, "", nil, time.Minute, `Certificate "api" for api.example.com expires in less than 2 minutes (2026-06-03 12:01 UTC) and has not been renewed.`},
		{EventExpired, "", nil, -time.Hour, `Certificate "api" for api.example.com has expired (2026-06-03 11:00 UTC).`},
		{EventRevoked, "", nil, 0, `Certificate "api" for api.example.com was revoked (version v7).`},
		{EventDeleted, "", nil, 0, `Certificate "api" for api.example.com is no longer managed.`},
		{"agent.deployed", "", nil, 0, `Certificate "api" for api.example.com: agent.deployed.`},
	}
	for _, tt := range tests {
		e := base
		e.Type, e.Error = tt.typ, tt.err
		if tt.names != nil {
			e.Names = tt.names
		}
		if tt.after != 0 {
			e.NotAfter = at.Add(tt.after)
		}
		if got := e.Summary(); got != tt.want {
			t.Errorf("%s summary:\n got %s\nwant %s", tt.typ, got, tt.want)
		}
	}
	long := Event{Type: EventFailed, Certificate: "x", Error: strings.Repeat("é", 400)}
	s := long.Summary()
	if strings.ContainsAny(s, "\n\r") || len(s) > 400 || !strings.Contains(s, "…") {
		t.Errorf("long error not shortened to one line: %d bytes", len(s))
	}
}

// TestAlertNamesMatchSchedule ties the alert names of package schedule to
// the event types here: the renewal service passes one as the other.
func TestAlertNamesMatchSchedule(t *testing.T) {
	for a, e := range map[schedule.Alert]EventType{
		schedule.AlertOverdue:  EventOverdue,
		schedule.AlertExpiring: EventExpiring,
		schedule.AlertExpired:  EventExpired,
	} {
		if string(a) != string(e) {
			t.Errorf("schedule alert %q != notify event %q", a, e)
		}
	}
}

func TestSignVerify(t *testing.T) {
	body := []byte(`{"id":"1"}`)
	at := time.Unix(1780000000, 0)
	h := Sign("s3cret", at, body)
	if h != "t=1780000000,v1="+strings.Split(h, "v1=")[1] || len(strings.Split(h, "v1=")[1]) != 64 {
		t.Fatalf("header %q", h)
	}
	if err := Verify("s3cret", h, body, at.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("valid signature rejected: %v", err)
	}
	bad := []struct {
		name, secret, header string
		body                 []byte
		now                  time.Time
	}{
		{"other secret", "other", h, body, at},
		{"other body", "s3cret", h, []byte(`{"id":"2"}`), at},
		{"too old", "s3cret", h, body, at.Add(time.Hour)},
		{"no t", "s3cret", h[strings.Index(h, "v1="):], body, at},
		{"no v1", "s3cret", "t=1780000000", body, at},
		{"garbage", "s3cret", "nonsense", body, at},
		{"short mac", "s3cret", "t=1780000000,v1=abcd", body, at},
		{"duplicate t", "s3cret", "t=1," + h, body, at},
		{"malformed v1 next to the right one", "s3cret", h + ",v1=zz", body, at},
	}
	for _, b := range bad {
		if err := Verify(b.secret, b.header, b.body, b.now, 5*time.Minute); err == nil || !strings.Contains(err.Error(), "bad webhook signature") {
			t.Errorf("%s: err = %v, want ErrSignature", b.name, err)
		}
	}
	// A rotated secret: several v1 values, one of which matches.
	rotated := Sign("old", at, body) + ",v1=" + strings.Split(h, "v1=")[1]
	if err := Verify("s3cret", rotated, body, at, time.Minute); err != nil {
		t.Errorf("one matching v1 among several rejected: %v", err)
	}
}
