// Package schedule decides when each managed certificate renews.
//
// It is a pure decision engine: no I/O, no goroutines, no clock of its own. The
// renewal service keeps one [State] per managed certificate, and on every tick
// (15 minutes by default) calls [Decide] with the current time. The returned
// [Decision] says whether to renew now, when the certificate is due, whether the
// ACME Renewal Information (ARI, RFC 9773) should be polled, which alerts to raise,
// and carries the updated State that the service persists.
//
// The renewal instant follows the tegata renewal decision:
//
//	lifetime = notAfter − notBefore
//	ratioAt  = notBefore + lifetime × ratio          (ratio 2/3 unless configured)
//	daysAt   = notAfter − beforeExpiry               (only when configured)
//	renewAt  = ARI pick if present, else min(ratioAt, daysAt)
//	renewAt  = min(renewAt, notAfter − lifetime/6)   (safety cap)
//	renew when now ≥ renewAt, after a jitter of 0–min(5 min, lifetime/200)
//
// The ARI pick is ONE uniform random instant in the suggested window, drawn when
// the window is first seen or changes and then persisted in the State; polling the
// same window again never re-rolls it (re-rolling on every poll, as lego's
// ShouldRenewAt does, skews renewals towards the start of the window). When the CA
// moves the window earlier and its start has passed, the certificate renews at
// once. The poll results enter the State through [State.ObserveARI] and
// [State.ARIFailed]; the next poll happens clamp(Retry-After or 6 h, 1 h, 24 h)
// later, or after lifetime/12 when that is shorter.
//
// Failed attempts enter through [State.Failed], which touches nothing but the
// attempt bookkeeping. The next attempt waits for an exponential backoff from
// 5 minutes, capped at min(6 h, lifetime/24) ([Backoff]), and at least for the
// CA's Retry-After. Failures of the hard classes ([Unauthorized], [CAA],
// [RejectedIdentifier], [Malformed]) stop automatic attempts for the rest of the
// UTC day once [HardAttemptsPerDay] of them happened that day. A success enters
// through [State.Renewed], which starts the bookkeeping of the new certificate.
//
// Alerts ([AlertOverdue], [AlertExpiring], [AlertExpired]) are raised once and then
// repeated no more often than [Policy.AlertRepeat]; the State remembers when each
// was last raised.
//
// Renewal attempts run under a [Limiter]: at most 4 at a time per ACME account
// and 2 per DNS provider instance (1 for providers that need sequential use).
package schedule
