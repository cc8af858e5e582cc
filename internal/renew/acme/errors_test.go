package acme

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/acme"
)

func problem(t string, status int) *acme.ProblemDetails {
	return &acme.ProblemDetails{Type: problemNS + t, Detail: "detail of " + t, HTTPStatus: status,
		Method: "POST", URL: "https://ca.test/new-order"}
}

// lego reports per-domain failures as an error tree (errors.Join and
// Unwrap() []error); classify walks all of it.
func joined(errs ...error) error {
	return fmt.Errorf("error: one or more domains had a problem:\n%w", errors.Join(errs...))
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error // nil: unclassified
	}{
		{"rate limited", &acme.RateLimitedError{ProblemDetails: problem("rateLimited", 429), RetryAfter: "120"}, ErrRateLimited},
		{"dns", joined(fmt.Errorf("invalid authorization: %w", problem("dns", 400))), ErrDNS},
		{"all dns", joined(problem("dns", 400), problem("dns", 400)), ErrDNS},
		{"dns and caa", joined(problem("dns", 400), problem("caa", 403)), ErrCAA},
		{"rate limit wins", joined(problem("unauthorized", 403), problem("rateLimited", 429)), ErrRateLimited},
		{"caa", problem("caa", 403), ErrCAA},
		{"rejected identifier", problem("rejectedIdentifier", 400), ErrRejectedIdentifier},
		{"unsupported identifier", problem("unsupportedIdentifier", 400), ErrRejectedIdentifier},
		{"unauthorized", problem("unauthorized", 403), ErrUnauthorized},
		{"EAB required", problem("externalAccountRequired", 400), ErrUnauthorized},
		{"incorrect response", problem("incorrectResponse", 400), ErrUnauthorized},
		{"malformed", problem("malformed", 400), ErrMalformed},
		{"bad CSR", problem("badCSR", 400), ErrMalformed},
		{"invalid profile", problem("invalidProfile", 400), ErrMalformed},
		{"subproblem", &acme.ProblemDetails{Type: problemNS + "compound", HTTPStatus: 403,
			SubProblems: []acme.SubProblem{{Type: problemNS + "caa"}}}, ErrMalformed},
		{"server internal", problem("serverInternal", 500), ErrCAUnavailable},
		{"unknown type, 503", problem("somethingNew", 503), ErrCAUnavailable},
		{"unknown type, 400", problem("somethingNew", 400), nil},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, ErrCAUnavailable},
		{"cut", fmt.Errorf("get directory: %w", io.ErrUnexpectedEOF), ErrCAUnavailable},
		{"propagation", fmt.Errorf("propagation: time limit exceeded: last error: %w",
			&PropagationError{Name: "_acme-challenge.a.test.", Server: "127.0.0.1:53", Rcode: 2}), ErrDNS},
		{"plain", errors.New("something else"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := classify("testing", tc.err, nil)
			classes := []error{ErrRateLimited, ErrDNS, ErrUnauthorized, ErrCAA, ErrRejectedIdentifier, ErrMalformed, ErrCAUnavailable}
			for _, k := range classes {
				if got := errors.Is(err, k); got != (k == tc.want) {
					t.Errorf("errors.Is(%v) = %v; error: %v", k, got, err)
				}
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("the classified error does not wrap the original: %v", err)
			}
			if tc.want != nil && !strings.Contains(err.Error(), hints[tc.want]) {
				t.Errorf("message %q does not say what to do", err)
			}
		})
	}
}

func TestClassifyRetryAfter(t *testing.T) {
	err := classify("ordering", joined(&acme.RateLimitedError{ProblemDetails: problem("rateLimited", 429), RetryAfter: "120"}), nil)
	if got := RetryAfter(err); got != 2*time.Minute {
		t.Errorf("RetryAfter = %v, want 2m", got)
	}
	if !strings.Contains(err.Error(), "retry after 2m0s") {
		t.Errorf("message %q does not give the wait", err)
	}
	if got := RetryAfter(errors.New("x")); got != 0 {
		t.Errorf("RetryAfter of a plain error = %v", got)
	}
}

func TestClassifyKeepsContextErrors(t *testing.T) {
	err := classify("ordering", fmt.Errorf("post: %w", context.Canceled), nil)
	var e *Error
	if errors.As(err, &e) || !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want the context error unclassified", err)
	}
}

func TestIsReplacesRejection(t *testing.T) {
	const newOrder = "https://ca.test/new-order"
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"unauthorized at newOrder", problem("unauthorized", 403), true},
		{"malformed at newOrder", problem("malformed", 400), true},
		{"server internal at newOrder", problem("serverInternal", 500), true},
		{"rate limited at newOrder", &acme.RateLimitedError{ProblemDetails: problem("rateLimited", 429)}, false},
		{"rejected identifier at newOrder", problem("rejectedIdentifier", 400), false},
		{"unauthorized elsewhere", &acme.ProblemDetails{Type: problemNS + "unauthorized", Method: "POST", URL: "https://ca.test/authz/1"}, false},
		{"network", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, false},
	} {
		if got := isReplacesRejection(tc.err, newOrder); got != tc.want {
			t.Errorf("%s: isReplacesRejection = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestEABKey(t *testing.T) {
	if got := eabKey("a+b/c=="); got != "a-b_c" {
		t.Errorf("eabKey = %q", got)
	}
}
