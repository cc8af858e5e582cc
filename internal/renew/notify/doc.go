// Package notify delivers renewal events to webhooks.
//
// The renewal service reports what happens to its certificates as [Event]
// values: issued, renewed, failed, overdue, expiring, expired, revoked and
// deleted. A [Notifier] encodes each event in the format of every webhook
// that wants it and posts it, in the background, with retries.
//
// Formats ([Format]):
//
//   - "tegata": a stable JSON envelope {"id","type","time","subject","data"},
//     documented on [FormatJSON], optionally signed with the header
//     Tegata-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t "." body)>
//     ([Sign], [Verify]);
//   - "slack": a Slack incoming-webhook message, {"text", "blocks"};
//   - "teams": a Microsoft Teams Workflows message carrying an Adaptive Card
//     (Office 365 connectors are retired; Workflows accept this envelope);
//   - "acmebot-slack", "acmebot-teams", "acmebot-generic": exactly what Key
//     Vault Acmebot sends, for receivers written against it. Acmebot only
//     knows success and failure, so these formats carry only issued, renewed
//     and failed events;
//   - "auto" (or empty) chooses by host as Acmebot does: Slack for
//     *hooks.slack.com, Teams for *.logic.azure.com,
//     *.environment.api.powerplatform.com and *.webhook.office.com, "tegata"
//     otherwise.
//
// Every event also has a one-line human summary, [Event.Summary], which the
// Slack and Teams formats show first.
//
// Delivery never blocks the caller: [Notifier.Send] puts the event on a
// bounded queue per webhook and returns; when a queue is full the event is
// dropped for that webhook, counted ([Stats].Dropped) and logged. One
// goroutine per webhook posts its events in order. An attempt times out
// after 10 s; 5xx answers, 429 and network errors are retried with
// exponential backoff (5 attempts over about 10 minutes by default), and a
// Retry-After is honoured; other answers are final. Response bodies are read
// up to a bound. Redirects are followed only within the same host. Any HTTPS
// URL is allowed; plain HTTP only to loopback unless [Options].AllowHTTP.
//
// Webhook URLs often carry their secret in the path or query (Slack, Teams
// Workflows). They are never logged: logs and errors name the webhook and
// its scheme and host only.
//
// [Notifier.Close] stops accepting events and drains the queues, giving up
// on what is left when its context ends.
package notify
