package acme

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/acme/api"
	"github.com/go-acme/lego/v4/challenge/dns01"
)

// The classes of failure the renewal scheduler branches on (reference
// B.5). Errors from this package match at most one with errors.Is; an
// error that matches none is unexpected and gets the default backoff.
var (
	// ErrRateLimited: the CA's rate limit; retry after Error.RetryAfter.
	ErrRateLimited = errors.New("rate limited by the CA")
	// ErrDNS: a DNS problem during validation (SERVFAIL, timeout, record
	// not visible in time); retry with backoff.
	ErrDNS = errors.New("DNS problem")
	// ErrUnauthorized: the CA refused the account or a validation failed;
	// at most 3 automatic attempts a day.
	ErrUnauthorized = errors.New("not authorized by the CA")
	// ErrCAA: a CAA record forbids the CA to issue; at most 3 a day.
	ErrCAA = errors.New("forbidden by CAA")
	// ErrRejectedIdentifier: the CA will not issue for a name; at most 3 a day.
	ErrRejectedIdentifier = errors.New("name rejected by the CA")
	// ErrMalformed: the request was wrong (CSR, key type, profile);
	// at most 3 a day.
	ErrMalformed = errors.New("request rejected as malformed")
	// ErrCAUnavailable: the CA could not be reached or failed (connection
	// refused, timeout, 5xx); retry with backoff.
	ErrCAUnavailable = errors.New("CA unavailable")
)

// hints say what to do about each class.
var hints = map[error]string{
	ErrRateLimited: "wait for the time the CA gave (Retry-After) before trying again; check for renewals that loop or " +
		"too many names per account",
	ErrDNS: "check that the challenge TXT record is published and resolvable from the CA: provider credentials, " +
		"zone delegation, CNAMEs, DNSSEC, and the propagation timeout",
	ErrUnauthorized: "check the account (EAB key ID and MAC key if the CA requires them) and that the challenge " +
		"was answered for the right name (DNS provider, zone, alias, HTTP-01 reachability)",
	ErrCAA:                "add the CA's identity (Directory.CAAIdentities) to the domain's CAA records, or use another CA",
	ErrRejectedIdentifier: "remove the name the CA refuses (policy, blocklist, unsupported name) or use another CA",
	ErrMalformed:          "fix the certificate policy (names, key type, profile) or the CSR; retrying will not help",
	ErrCAUnavailable:      "check the directory URL and the network to the CA; it will be retried later",
}

// An Error is a classified failure of an ACME operation.
type Error struct {
	// Kind is one of ErrRateLimited, ErrDNS, ErrUnauthorized, ErrCAA,
	// ErrRejectedIdentifier, ErrMalformed or ErrCAUnavailable.
	Kind error
	// Op says what was being done ("obtaining a certificate for a.example").
	Op string
	// Problem is the type of the CA's problem document
	// (urn:ietf:params:acme:error:...), when there was one.
	Problem string
	// RetryAfter is the wait the CA asked for (rate limits), or zero.
	RetryAfter time.Duration
	// Err is the underlying error.
	Err error
	// detail replaces Err's text when Err is nil.
	detail string
}

func newError(kind error, op, detail string, err error) *Error {
	return &Error{Kind: kind, Op: op, Err: err, detail: detail}
}

// Error reads "acme: <op>: <kind>: <cause>; <what to do>".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "acme: %s: %v", e.Op, e.Kind)
	if e.detail != "" {
		b.WriteString(": " + e.detail)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	b.WriteString("; " + hints[e.Kind])
	return b.String()
}

// Unwrap returns the class and the underlying error.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// RetryAfter returns the wait the CA asked for in err, or zero.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

const problemNS = "urn:ietf:params:acme:error:"

// kindOf maps an ACME problem type (without the namespace) to its class.
func kindOf(t string, status int) error {
	switch t {
	case "rateLimited":
		return ErrRateLimited
	case "dns":
		return ErrDNS
	case "caa":
		return ErrCAA
	case "rejectedIdentifier", "unsupportedIdentifier":
		return ErrRejectedIdentifier
	case "unauthorized", "externalAccountRequired", "accountDoesNotExist", "userActionRequired",
		"incorrectResponse", "connection", "tls":
		return ErrUnauthorized
	case "malformed", "badCSR", "badPublicKey", "badSignatureAlgorithm", "badRevocationReason",
		"invalidContact", "unsupportedContact", "invalidProfile", "orderNotReady", "alreadyRevoked",
		"alreadyReplaced", "compound":
		return ErrMalformed
	case "serverInternal", "badNonce":
		return ErrCAUnavailable
	}
	if status >= 500 {
		return ErrCAUnavailable
	}
	return nil
}

// classify turns an error from lego or the network into an *Error when it
// can tell its class, and otherwise wraps it with op. tr (may be nil)
// tells whether the CA's last answer was a 5xx.
func classify(op string, err error, tr *tracker) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var problems []*acme.ProblemDetails
	var retryAfter time.Duration
	var dnsTrouble bool
	walk(err, func(e error) {
		switch e := e.(type) {
		case *acme.RateLimitedError:
			if d, perr := api.ParseRetryAfter(e.RetryAfter); perr == nil {
				retryAfter = d
			}
		case *acme.ProblemDetails:
			problems = append(problems, e)
			for _, sp := range e.SubProblems {
				problems = append(problems, &acme.ProblemDetails{Type: sp.Type, Detail: sp.Detail, HTTPStatus: e.HTTPStatus})
			}
		case *PropagationError, *dns01.DNSError:
			dnsTrouble = true
		}
	})
	out := &Error{Op: op, Err: err, RetryAfter: retryAfter}
	if len(problems) > 0 {
		// A rate limit wins; failures are a DNS problem (retried) only when
		// every one is (B.5); otherwise the first other class counts.
		for _, p := range problems {
			k := kindOf(strings.TrimPrefix(p.Type, problemNS), p.HTTPStatus)
			switch {
			case k == nil || out.Kind == ErrRateLimited:
			case k == ErrRateLimited, out.Kind == nil, out.Kind == ErrDNS && k != ErrDNS:
				out.Kind, out.Problem = k, p.Type
			}
		}
		if out.Kind != nil {
			return out
		}
	}
	switch {
	case dnsTrouble:
		out.Kind = ErrDNS
	case unreachable(err) || tr.serverError() != 0:
		out.Kind = ErrCAUnavailable
	default:
		return fmt.Errorf("acme: %s: %w", op, err)
	}
	return out
}

// walk calls f for err and every error it wraps.
func walk(err error, f func(error)) {
	if err == nil {
		return
	}
	f(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), f)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, f)
		}
	}
}

// unreachable reports a failure to reach the CA: refused, reset or cut
// connections, timeouts, unresolvable host.
func unreachable(err error) bool {
	var ne net.Error
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return true
	case errors.As(err, &dnsErr), errors.As(err, &opErr):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}

// statusError classifies a non-2xx answer to a request made outside lego.
func statusError(op string, resp *http.Response, body []byte) error {
	var p acme.ProblemDetails
	if json.Unmarshal(body, &p) == nil && p.Type != "" {
		if p.HTTPStatus == 0 {
			p.HTTPStatus = resp.StatusCode
		}
		p.Method, p.URL = resp.Request.Method, resp.Request.URL.String()
		var perr error = &p
		if resp.StatusCode == http.StatusTooManyRequests {
			perr = &acme.RateLimitedError{ProblemDetails: &p, RetryAfter: resp.Header.Get("Retry-After")}
		}
		return classify(op, perr, nil)
	}
	err := fmt.Errorf("%s %s: %s", resp.Request.Method, resp.Request.URL, resp.Status)
	if k := kindOf("", resp.StatusCode); k != nil {
		return &Error{Kind: k, Op: op, Err: err}
	}
	return fmt.Errorf("acme: %s: %w", op, err)
}

// isReplacesRejection reports whether err is the CA's refusal of a
// newOrder request (which carried replaces) for a reason that is not
// clearly about something else: any such refusal may be caused by the
// replaces field, and retrying once without it costs one request.
func isReplacesRejection(err error, newOrderURL string) bool {
	found := false
	walk(err, func(e error) {
		p, ok := e.(*acme.ProblemDetails)
		if !ok || p.URL != newOrderURL || p.Method != http.MethodPost {
			return
		}
		switch strings.TrimPrefix(p.Type, problemNS) {
		case "rateLimited", "rejectedIdentifier", "unsupportedIdentifier", "caa", "badNonce",
			"externalAccountRequired", "accountDoesNotExist", "userActionRequired", "invalidProfile":
		default:
			found = true
		}
	})
	return found
}
