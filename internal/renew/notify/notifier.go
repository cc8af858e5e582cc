package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of [Options].
const (
	DefaultQueueSize        = 256
	DefaultAttempts         = 5
	DefaultBackoff          = 40 * time.Second // 40 s + 80 s + 160 s + 320 s = 10 min
	DefaultMaxBackoff       = time.Hour
	DefaultMaxRetryAfter    = 15 * time.Minute
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 64 << 10
)

// Errors returned by [Notifier.Send].
var (
	// ErrClosed: the Notifier was closed.
	ErrClosed = errors.New("notify: notifier closed")
	// ErrQueueFull: a webhook's queue was full and the event was dropped for it.
	ErrQueueFull = errors.New("notify: webhook queue full, event dropped")
)

// Webhook is one delivery target.
type Webhook struct {
	// Name labels the webhook in logs and results; default: its scheme and host.
	Name string
	// URL is where events are POSTed. It is treated as a secret: only its
	// scheme and host are ever logged.
	URL string
	// Format is the payload format; empty means [FormatAuto].
	Format Format
	// Events, when not empty, limits the webhook to these event types.
	Events []EventType
	// Secret, when set, signs each request with the [SignatureHeader].
	Secret string
}

// Options configures a [Notifier]. Zero fields take their defaults.
type Options struct {
	// Webhooks are the delivery targets.
	Webhooks []Webhook
	// Instance names this tegata instance in payloads (Acmebot's functionAppName).
	Instance string
	// QueueSize bounds the events waiting per webhook (default 256).
	QueueSize int
	// Attempts is the number of delivery attempts per event and webhook (default 5).
	Attempts int
	// Backoff is the wait before the second attempt; it doubles for each
	// further attempt (default 40 s, so 5 attempts span about 10 minutes).
	Backoff time.Duration
	// MaxBackoff caps the doubling (default 1 h).
	MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After honoured; an answer asking
	// for more ends the delivery instead (default 15 min).
	MaxRetryAfter time.Duration
	// Timeout bounds each attempt (default 10 s).
	Timeout time.Duration
	// MaxResponseBytes bounds how much of a response body is read (default 64 KiB).
	MaxResponseBytes int64
	// AllowHTTP permits plain-HTTP webhooks on hosts other than loopback.
	AllowHTTP bool
	// Client sends the requests; nil means a client on http.DefaultTransport.
	// Its CheckRedirect is replaced by the same-host policy.
	Client *http.Client
	// Logger receives delivery logs; nil means slog.Default().
	Logger *slog.Logger
	// Clock is the time source for event times, signatures and HTTP-date
	// Retry-After values; nil means time.Now.
	Clock func() time.Time
	// Sleep waits between attempts and returns early with ctx's error;
	// nil means a timer. Tests inject one that returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnResult, when set, is called once per event and webhook when the
	// delivery ends, delivered or not, from the webhook's goroutine. It must
	// not block for long. Failed deliveries are also logged.
	OnResult func(Result)
}

// Result is the outcome of delivering one event to one webhook.
type Result struct {
	// Webhook is the webhook's name; Endpoint its scheme and host.
	Webhook, Endpoint string
	// Event is the event.
	Event Event
	// Attempts is how many requests were made.
	Attempts int
	// Status is the HTTP status of the last answer; 0 when there was none.
	Status int
	// Err is nil when the event was delivered, otherwise why it was not.
	// It never contains the webhook URL.
	Err error
}

// Stats counts deliveries since the Notifier started; counts are per event
// and webhook.
type Stats struct {
	// Queued counts events accepted onto a webhook queue.
	Queued uint64
	// Delivered counts events a webhook acknowledged with 2xx.
	Delivered uint64
	// Failed counts events given up on.
	Failed uint64
	// Dropped counts events refused because a queue was full.
	Dropped uint64
}

// Notifier delivers events to webhooks in the background. It is safe for
// concurrent use. Create it with [New] and stop it with [Notifier.Close].
type Notifier struct {
	opts   Options
	log    *slog.Logger
	client *http.Client
	hooks  []*hook

	mu     sync.RWMutex // guards closed against Send
	closed bool
	done   chan struct{} // closed when every worker has returned

	ctx    context.Context // cancelled when Close gives up on the queues
	cancel context.CancelFunc
	wg     sync.WaitGroup

	queued, delivered, failed, dropped atomic.Uint64
}

// hook is a validated webhook and its queue.
type hook struct {
	name     string
	endpoint string // scheme://host, safe to log
	url      *url.URL
	format   Format // concrete
	events   []EventType
	secret   string
	queue    chan Event
	dropped  atomic.Uint64
	scrubber *strings.Replacer
}

// New validates opts and starts one delivery goroutine per webhook.
// Errors name the webhook by position and name, never by URL.
func New(opts Options) (*Notifier, error) {
	opts = withDefaults(opts)
	n := &Notifier{opts: opts, log: opts.Logger, done: make(chan struct{})}
	client := &http.Client{Transport: http.DefaultTransport}
	if opts.Client != nil {
		c := *opts.Client
		client = &c
	}
	client.CheckRedirect = sameHostRedirects
	n.client = client
	for i, w := range opts.Webhooks {
		h, err := newHook(w, opts)
		if err != nil {
			label := fmt.Sprintf("webhook %d", i+1)
			if w.Name != "" {
				label += fmt.Sprintf(" (%s)", w.Name)
			}
			return nil, fmt.Errorf("notify: %s: %w", label, err)
		}
		n.hooks = append(n.hooks, h)
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	for _, h := range n.hooks {
		n.wg.Go(func() { n.run(h) })
	}
	return n, nil
}

// withDefaults fills the zero fields of o.
func withDefaults(o Options) Options {
	set := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	set(&o.Backoff, DefaultBackoff)
	set(&o.MaxBackoff, DefaultMaxBackoff)
	set(&o.MaxRetryAfter, DefaultMaxRetryAfter)
	set(&o.Timeout, DefaultTimeout)
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return o
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newHook validates w.
func newHook(w Webhook, o Options) (*hook, error) {
	u, err := url.Parse(w.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("invalid URL: %v", err)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("URL has no host; want https://host/path")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("URL port %q is out of range", p)
		}
	}
	endpoint := u.Scheme + "://" + u.Host
	switch u.Scheme {
	case "https":
	case "http":
		if !o.AllowHTTP && !loopback(u.Hostname()) {
			return nil, fmt.Errorf("plain HTTP to %s would expose the URL and payload; use https, or set AllowHTTP", endpoint)
		}
	default:
		return nil, fmt.Errorf("URL scheme %q is not http or https", u.Scheme)
	}
	f, err := ParseFormat(string(w.Format))
	if err != nil {
		return nil, err
	}
	for _, t := range w.Events {
		if !t.Known() {
			return nil, fmt.Errorf("unknown event type %q in the event filter", t)
		}
	}
	name := w.Name
	if name == "" {
		name = endpoint
	}
	return &hook{
		name: name, endpoint: endpoint, url: u, format: f.Resolve(u),
		events: slices.Clone(w.Events), secret: w.Secret,
		queue:    make(chan Event, o.QueueSize),
		scrubber: scrubberFor(u),
	}, nil
}

// loopback reports whether host is localhost or a loopback address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// scrubberFor returns a replacer that hides the secret-bearing parts of u
// (full URL, userinfo, path, query) in text received from the server.
func scrubberFor(u *url.URL) *strings.Replacer {
	var pairs []string
	for _, s := range []string{u.String(), u.Redacted(), u.User.String(), u.EscapedPath(), u.Path, u.RawQuery} {
		if len(s) > 1 {
			pairs = append(pairs, s, "[redacted]")
		}
	}
	return strings.NewReplacer(pairs...)
}

// wants reports whether h takes events of type t.
func (h *hook) wants(t EventType) bool {
	if !h.format.Supports(t) {
		return false
	}
	return len(h.events) == 0 || slices.Contains(h.events, t)
}

// Send queues e for every webhook that wants it and returns at once; it
// never waits for delivery or for queue space. It fills e.ID and e.Time
// when empty. It returns [ErrClosed] after Close, and an error wrapping
// [ErrQueueFull] when a full queue made it drop e for some webhook (the
// others still get it). ctx only carries values for logging.
func (n *Notifier) Send(ctx context.Context, e Event) error {
	if e.ID == "" {
		e.ID = newID()
	}
	if e.Time.IsZero() {
		e.Time = n.opts.Clock()
	}
	e.Names = slices.Clone(e.Names)

	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return ErrClosed
	}
	var full []string
	for _, h := range n.hooks {
		if !h.wants(e.Type) {
			continue
		}
		select {
		case h.queue <- e:
			n.queued.Add(1)
		default:
			n.dropped.Add(1)
			full = append(full, h.name)
			if c := h.dropped.Add(1); c == 1 || c%100 == 0 {
				n.log.WarnContext(ctx, "webhook queue full; event dropped",
					"webhook", h.name, "endpoint", h.endpoint, "event", e.Type,
					"certificate", e.Certificate, "dropped_total", c, "queue_size", cap(h.queue))
			}
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("%w for %s", ErrQueueFull, strings.Join(full, ", "))
	}
	return nil
}

// newID returns a random 128-bit hex identifier.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Stats returns the delivery counters.
func (n *Notifier) Stats() Stats {
	return Stats{Queued: n.queued.Load(), Delivered: n.delivered.Load(), Failed: n.failed.Load(), Dropped: n.dropped.Load()}
}

// Close stops accepting events and waits until every queued event has been
// delivered or given up on, retries included. When ctx ends first, Close
// aborts the attempts and waits in progress, reports what is left as failed,
// and returns ctx's error. Calling Close again waits for the same drain.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		for _, h := range n.hooks {
			close(h.queue)
		}
		go func() {
			n.wg.Wait()
			close(n.done)
		}()
	}
	n.mu.Unlock()
	select {
	case <-n.done:
		n.cancel()
		return nil
	case <-ctx.Done():
		n.cancel()
		<-n.done
		return ctx.Err()
	}
}
