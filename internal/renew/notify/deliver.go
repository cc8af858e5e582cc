package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// StatusError is a non-2xx answer from a webhook.
type StatusError struct {
	// Status is the HTTP status code.
	Status int
	// Body is the start of the response body, on one line, with any part of
	// the webhook URL replaced by "[redacted]".
	Body string
}

// Error implements error.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("webhook answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// retryable reports whether an answer with status code may succeed later:
// 429 and 5xx. Other codes, 3xx included, are final.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// snippetBytes is how much of an error response body is quoted.
const snippetBytes = 256

// maxRedirects bounds same-host redirects.
const maxRedirects = 5

// sameHostRedirects follows at most maxRedirects redirects, and only to the
// original scheme and host; otherwise the 3xx answer itself is returned.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	if !strings.EqualFold(req.URL.Host, first.Host) || req.URL.Scheme != first.Scheme || len(via) > maxRedirects {
		return http.ErrUseLastResponse
	}
	return nil
}

// run delivers h's events in order until its queue is closed and empty.
func (n *Notifier) run(h *hook) {
	for e := range h.queue {
		n.finish(h, n.deliver(h, e))
	}
}

// deliver makes up to opts.Attempts attempts to post e to h.
func (n *Notifier) deliver(h *hook, e Event) Result {
	res := Result{Webhook: h.name, Endpoint: h.endpoint, Event: e}
	body, err := h.format.Encode(e, n.opts.Instance)
	if err != nil {
		res.Err = err
		return res
	}
	for {
		res.Attempts++
		var retryAfter time.Duration
		res.Status, retryAfter, res.Err = n.post(h, body)
		if res.Err == nil {
			return res
		}
		if n.ctx.Err() != nil {
			res.Err = fmt.Errorf("%w (abandoned: notifier closed)", res.Err)
			return res
		}
		if res.Status != 0 && !retryable(res.Status) {
			return res
		}
		if res.Attempts >= n.opts.Attempts {
			res.Err = fmt.Errorf("%w (gave up after %d attempts)", res.Err, res.Attempts)
			return res
		}
		delay := n.backoff(res.Attempts)
		if retryAfter > 0 {
			if retryAfter > n.opts.MaxRetryAfter {
				res.Err = fmt.Errorf("%w (Retry-After %s exceeds the %s limit; giving up)", res.Err, retryAfter, n.opts.MaxRetryAfter)
				return res
			}
			delay = max(retryAfter, time.Second)
		}
		n.log.Warn("webhook attempt failed; will retry",
			"webhook", h.name, "endpoint", h.endpoint, "event", e.Type, "certificate", e.Certificate,
			"attempt", res.Attempts, "status", res.Status, "retry_in", delay, "error", res.Err.Error())
		if err := n.opts.Sleep(n.ctx, delay); err != nil {
			res.Err = fmt.Errorf("%w (abandoned: notifier closed)", res.Err)
			return res
		}
	}
}

// backoff returns the wait after the given failed attempt: Backoff doubled
// attempt−1 times, capped at MaxBackoff.
func (n *Notifier) backoff(attempt int) time.Duration {
	d := n.opts.Backoff
	for i := 1; i < attempt && d < n.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, n.opts.MaxBackoff)
}

// finish counts, logs and reports the outcome of one delivery.
func (n *Notifier) finish(h *hook, res Result) {
	if res.Err == nil {
		n.delivered.Add(1)
		n.log.Debug("webhook delivered", "webhook", h.name, "endpoint", h.endpoint,
			"event", res.Event.Type, "certificate", res.Event.Certificate, "attempts", res.Attempts)
	} else {
		n.failed.Add(1)
		n.log.Error("webhook delivery failed", "webhook", h.name, "endpoint", h.endpoint,
			"event", res.Event.Type, "certificate", res.Event.Certificate, "event_id", res.Event.ID,
			"attempts", res.Attempts, "status", res.Status, "error", res.Err.Error())
	}
	if n.opts.OnResult != nil {
		n.opts.OnResult(res)
	}
}

// post makes one attempt. It returns the status (0 without an answer), the
// answer's Retry-After (0 when absent) and nil for a 2xx answer.
func (n *Notifier) post(h *hook, body []byte) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(n.ctx, n.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url.String(), bytes.NewReader(body))
	if err != nil {
		return 0, 0, fmt.Errorf("building the request to %s: %w", h.endpoint, redact(err, h.endpoint))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tegata-notify")
	if h.secret != "" {
		req.Header.Set(SignatureHeader, Sign(h.secret, n.opts.Clock(), body))
	}
	resp, err := n.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && n.ctx.Err() == nil {
			return 0, 0, fmt.Errorf("POST %s: no answer within %s", h.endpoint, n.opts.Timeout)
		}
		return 0, 0, redact(err, h.endpoint)
	}
	defer resp.Body.Close()
	limited := io.LimitReader(resp.Body, n.opts.MaxResponseBytes)
	head := make([]byte, snippetBytes)
	k, _ := io.ReadFull(limited, head)
	_, _ = io.Copy(io.Discard, limited)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	se := &StatusError{Status: resp.StatusCode, Body: h.scrubber.Replace(oneLine(string(head[:k]), snippetBytes))}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		se.Body = "redirect not followed: only redirects to " + h.endpoint + " are"
		if loc, err := resp.Location(); err == nil {
			se.Body = "redirect to " + loc.Scheme + "://" + loc.Host + " not followed: only redirects to " + h.endpoint + " are"
		}
	}
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), n.opts.Clock()), se
}

// redact rewrites a *url.Error, whose text holds the full URL, to name only
// the scheme and host.
func redact(err error, endpoint string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, endpoint, ue.Err)
	}
	return err
}

// parseRetryAfter returns the wait a Retry-After value asks for: a number of
// seconds or an HTTP date (counted from now). Missing, malformed, negative
// and past values give 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, math.MaxInt32)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
