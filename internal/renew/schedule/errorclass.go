package schedule

// ErrorClass says why a renewal attempt failed, at the granularity the retry
// policy needs. The ACME layer maps its typed errors (RFC 8555 problem types,
// DNS provider errors, vault errors) to these classes.
//
// The string values are stable: they are persisted in [State] and appear in
// the API and logs. Values this package does not know count as [Other].
type ErrorClass string

// The error classes. The first six match the RFC 8555 problem types
// urn:ietf:params:acme:error:<value>.
const (
	// RateLimited: the CA refused because of a rate limit. The next attempt
	// waits at least for the CA's Retry-After.
	RateLimited ErrorClass = "rateLimited"
	// DNS: a DNS problem during validation (the record was not seen, SERVFAIL,
	// a provider API failure). Retried with backoff.
	DNS ErrorClass = "dns"
	// Unauthorized: the CA refused authorization. A hard class.
	Unauthorized ErrorClass = "unauthorized"
	// CAA: a CAA record forbids issuance. A hard class.
	CAA ErrorClass = "caa"
	// RejectedIdentifier: the CA will not issue for an identifier. A hard class.
	RejectedIdentifier ErrorClass = "rejectedIdentifier"
	// Malformed: the CA rejected the request as malformed. A hard class.
	Malformed ErrorClass = "malformed"
	// CAUnavailable: the CA could not be reached or answered 5xx. Retried with
	// backoff.
	CAUnavailable ErrorClass = "caUnavailable"
	// Vault: reading from or writing to the target vault failed. Retried with
	// backoff.
	Vault ErrorClass = "vault"
	// Other: anything else. Retried with backoff.
	Other ErrorClass = "other"
)

// Classes lists every error class in a fixed order, the index order of
// [DailyCounts.Counts]. New classes are only ever appended.
var Classes = [...]ErrorClass{RateLimited, DNS, Unauthorized, CAA, RejectedIdentifier, Malformed, CAUnavailable, Vault, Other}

// numClasses is len(Classes).
const numClasses = len(Classes)

// HardAttemptsPerDay is how many failures of the hard classes a certificate may
// have in one UTC day before automatic attempts stop until the next day.
const HardAttemptsPerDay = 3

// index returns c's position in [Classes]; unknown classes map to [Other].
func (c ErrorClass) index() int {
	switch c {
	case RateLimited:
		return 0
	case DNS:
		return 1
	case Unauthorized:
		return 2
	case CAA:
		return 3
	case RejectedIdentifier:
		return 4
	case Malformed:
		return 5
	case CAUnavailable:
		return 6
	case Vault:
		return 7
	default:
		return 8
	}
}

// Known reports whether c is one of the classes in [Classes].
func (c ErrorClass) Known() bool {
	return c == Other || c.index() != Other.index()
}

// Normalize returns c, or [Other] when c is not a known class.
func (c ErrorClass) Normalize() ErrorClass {
	return Classes[c.index()]
}

// Hard reports whether c is a hard class ([Unauthorized], [CAA],
// [RejectedIdentifier], [Malformed]): retrying soon is unlikely to help and
// burns the CA's failed-validation budget, so automatic attempts stop after
// [HardAttemptsPerDay] such failures in a UTC day.
func (c ErrorClass) Hard() bool {
	switch c {
	case Unauthorized, CAA, RejectedIdentifier, Malformed:
		return true
	}
	return false
}
