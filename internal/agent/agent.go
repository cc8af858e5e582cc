package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Options configure an Agent.
type Options struct {
	// Plan is what to do; it must be for Linux (NewPlan with "linux").
	Plan *Plan
	Log  *slog.Logger
	// Clock returns the time (default time.Now).
	Clock func() time.Time
	// VaultHTTP and TokenHTTP are the clients for the vault and the
	// metadata service. By default the vault client trusts the system roots
	// and Plan.CAFile and honours HTTPS_PROXY; the metadata client never
	// uses a proxy.
	VaultHTTP, TokenHTTP *http.Client
	// RunHook runs reload hooks (default: commands and signals as
	// configured).
	RunHook HookRunner
	// ArcTokenDir overrides where Azure Arc key files may be.
	ArcTokenDir string
	// Concurrency bounds the certificates polled at once (default 8).
	Concurrency int
}

// An Agent keeps the certificates of a Plan installed and current.
type Agent struct {
	plan    *Plan
	log     *slog.Logger
	clock   func() time.Time
	vault   *VaultClient
	roots   *x509.CertPool // for RequireTrustedRoot; nil otherwise
	runHook HookRunner
	conc    int
	metrics *metrics
	// sleep waits d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// jitter returns a factor in [-1, 1); tests replace it.
	jitter func() float64

	restoreOnce sync.Once

	mu     sync.Mutex
	certs  []*certState
	ready  bool
	passes int
	failed bool // the initial sync gave up
	notify *notifier
}

// certState is what the agent knows of one target.
type certState struct {
	t          *Target
	installed  *Installed
	checked    bool // the installed files were compared with the settings in this run
	synced     bool // the vault was read and its version is installed, in this run
	state      State
	err        error
	kind       ErrorKind
	lastErr    string
	lastErrAt  time.Time
	failures   int
	lastPoll   time.Time
	lastChange time.Time
	retryAfter time.Duration
	refused    string          // the version last refused, to log it once
	pending    map[string]Hook // hooks still to run, by key
	hookErr    error
	// hookFailures counts the consecutive failed runs of pending hooks.
	hookFailures int
	due          time.Time
}

// New prepares an Agent: it reads what is installed for each target and
// builds the HTTP clients. A Plan for another platform than Linux gives
// ErrUnsupportedPlatform; an unreadable CA file is an error.
func New(o Options) (*Agent, error) {
	p := o.Plan
	if p == nil {
		return nil, errors.New("agent: no plan")
	}
	if p.Platform != "linux" || runtime.GOOS == "windows" {
		return nil, fmt.Errorf("%w: the agent installs into Linux directories; the Windows certificate store installer is planned (Q24)", ErrUnsupportedPlatform)
	}
	a := &Agent{plan: p, log: o.Log, clock: o.Clock, runHook: o.RunHook, conc: o.Concurrency, notify: newNotifier()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if p.ServiceName != "" {
		a.log = a.log.With("service", p.ServiceName)
	}
	if a.clock == nil {
		a.clock = time.Now
	}
	if a.runHook == nil {
		a.runHook = runHook
	}
	if a.conc <= 0 {
		a.conc = 8
	}
	a.sleep = sleepContext
	a.jitter = randJitter
	pool, err := trustPool(p.CAFile)
	if err != nil {
		return nil, err
	}
	if p.RequireTrustedRoot {
		a.roots = pool
	}
	vh, th := o.VaultHTTP, o.TokenHTTP
	if vh == nil {
		vh = newHTTPClient(pool, true)
	}
	if th == nil {
		th = newHTTPClient(nil, false)
	}
	ts := &TokenSource{URL: p.TokenURL, ClientID: p.ClientID, HTTP: th, Clock: a.clock, ArcTokenDir: o.ArcTokenDir}
	a.vault = &VaultClient{HTTP: vh, Tokens: ts, APIVersion: p.APIVersion, Resource: p.Resource}
	now := a.clock()
	for i := range p.Targets {
		t := &p.Targets[i]
		st := &certState{t: t, state: StateTransitioning, due: now, pending: map[string]Hook{}}
		if st.installed, err = t.ReadInstalled(); err != nil {
			a.log.Warn("cannot read the installed version; the next install replaces it", "link", t.LinkPath, "err", err)
		}
		a.certs = append(a.certs, st)
	}
	a.metrics = newMetrics(a)
	return a, nil
}

// trustPool is the system roots plus the certificates of caFile.
func trustPool(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("tegata.caFile: %w", err)
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("tegata.caFile: %s holds no PEM certificate", caFile)
	}
	return pool, nil
}

// newHTTPClient returns a client with timeouts; roots nil means the
// system's. proxy selects HTTPS_PROXY and friends (never for the metadata
// service, which is link-local).
func newHTTPClient(roots *x509.CertPool, proxy bool) *http.Client {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	if proxy {
		tr.Proxy = http.ProxyFromEnvironment
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

func (a *Agent) now() time.Time { return a.clock() }

// Handler serves /healthz, /readyz and /metrics.
func (a *Agent) Handler() http.Handler { return a.handler() }

// Ready reports whether the agent has declared itself started.
func (a *Agent) Ready() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ready
}

// A Report is the outcome of one pass over the certificates.
type Report struct {
	Certificates []CertReport `json:"certificates"`
}

// CertReport is one certificate's outcome in a Report.
type CertReport struct {
	URL  string `json:"url"`
	Link string `json:"link,omitempty"`
	// Version is the version installed after the pass ("" if none).
	Version string `json:"version,omitempty"`
	// Changed is true when the pass installed or rewrote the version.
	Changed bool  `json:"changed"`
	State   State `json:"state"`
	Err     error `json:"-"`
	// Error is Err's text.
	Error string `json:"error,omitempty"`
}

// OK reports whether every certificate is current: read from the vault,
// installed, and its hooks run.
func (r *Report) OK() bool {
	for _, c := range r.Certificates {
		if c.Err != nil || c.State != StateSuccess {
			return false
		}
	}
	return true
}

// Err joins the errors of r's certificates.
func (r *Report) Err() error {
	var errs []error
	for _, c := range r.Certificates {
		if c.Err != nil {
			errs = append(errs, c.Err)
		}
	}
	return errors.Join(errs...)
}

// SyncOnce polls every certificate once, installs what changed, runs the
// hooks that are due (including those a previous run left pending in the
// status file) and writes the status file. It is `tegata agent once`.
//
// When every certificate is then current, the agent counts as ready (the
// initial sync is done), as Run would report it.
func (a *Agent) SyncOnce(ctx context.Context) *Report {
	a.restoreOnce.Do(a.restorePending)
	r := a.pass(ctx, a.certs)
	if _, done := a.initialSyncDone(); done && r.OK() && !a.Ready() {
		a.mu.Lock()
		a.setReadyLocked()
		a.mu.Unlock()
		a.writeStatus()
	}
	return r
}

// pass syncs the given certificates (at most Concurrency at a time), runs
// the pending hooks, schedules the next polls and writes the status.
func (a *Agent) pass(ctx context.Context, due []*certState) *Report {
	changed := make([]bool, len(due))
	sem := make(chan struct{}, a.conc)
	var wg sync.WaitGroup
	for i, st := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			changed[i] = a.syncTarget(ctx, st)
		}()
	}
	wg.Wait()
	a.runPendingHooks(ctx)
	rep := &Report{}
	a.mu.Lock()
	a.passes++
	now := a.now()
	isDue := map[*certState]bool{}
	for _, st := range due {
		isDue[st] = true
	}
	for _, st := range a.certs {
		// Hooks run for every certificate, due or not: settle all, and
		// bring forward the poll of one whose hook must be retried.
		a.settle(st)
		if next := now.Add(a.delay(st)); isDue[st] || len(st.pending) > 0 && next.Before(st.due) {
			st.due = next
		}
	}
	for i, st := range due {
		cr := CertReport{URL: st.t.URL, Link: st.t.Label(), Changed: changed[i], State: st.state, Err: st.err}
		if st.err == nil && st.hookErr != nil {
			cr.Err = st.hookErr
		}
		if cr.Err != nil {
			cr.Error = cr.Err.Error()
		}
		if st.installed != nil {
			cr.Version = st.installed.Version
		}
		rep.Certificates = append(rep.Certificates, cr)
	}
	a.mu.Unlock()
	a.writeStatus()
	return rep
}

// syncTarget reads st's secret and installs it when its version is new; it
// reports whether files were written. The outcome is left in st.
func (a *Agent) syncTarget(ctx context.Context, st *certState) bool {
	t := st.t
	now := a.now()
	a.metrics.polls.WithLabelValues(t.URL, t.Label()).Inc()
	sec, err := a.vault.GetSecret(ctx, t.Secret)
	if err != nil && ctx.Err() != nil {
		return false // shutting down: not a failure of the vault
	}
	a.mu.Lock()
	st.lastPoll, st.retryAfter = now, 0
	installed, checked := st.installed, st.checked
	a.mu.Unlock()
	if err != nil {
		if ve, ok := errorsAsVault(err); ok && ve.RetryAfterS > 0 {
			a.mu.Lock()
			st.retryAfter = time.Duration(ve.RetryAfterS) * time.Second
			a.mu.Unlock()
		}
		a.fail(st, err)
		return false
	}
	same := installed != nil && strings.EqualFold(installed.Version, sec.Version)
	if same && checked && t.intact(installed) {
		a.succeed(st, nil)
		return false
	}
	cand, err := ParseSecret(sec)
	if err != nil {
		a.fail(st, err)
		return false
	}
	if same {
		// First sight of the installed version in this run: rewrite the
		// files if the settings changed what they should hold.
		if t.upToDate(cand, installed) {
			a.succeed(st, nil)
			return false
		}
		a.log.Info("rewriting the installed version: the settings changed its files", "link", t.Label(), "version", sec.Version)
	} else {
		opts := CheckOptions{Now: now, Installed: installed, Pinned: t.Pinned, Roots: a.roots}
		if installed != nil && (installed.Version == "" || sameCertificate(installed, cand)) {
			opts.Installed = nil
		}
		if err := cand.Check(opts); err != nil {
			a.fail(st, err)
			return false
		}
	}
	for _, n := range cand.Notes {
		a.log.Warn(n, "link", t.Label(), "version", cand.Version)
	}
	in, err := t.install(cand)
	if err != nil {
		a.fail(st, &PollError{Kind: KindInstall, URL: t.URL, Err: err})
		return false
	}
	a.metrics.installs.WithLabelValues(t.URL, t.Label()).Inc()
	a.log.Info("installed", "link", t.LinkPath, "file", in.File, "version", in.Version, "notAfter", in.NotAfter.UTC().Format(time.RFC3339), "serial", in.Serial)
	if removed, err := t.prune(in.Version); err != nil {
		a.log.Warn("pruning old versions", "link", t.LinkPath, "err", err)
	} else if len(removed) > 0 {
		a.log.Info("removed old versions", "link", t.LinkPath, "files", removed)
	}
	a.succeed(st, in)
	return true
}

// sameCertificate reports whether the installed version holds c's leaf
// (the same certificate stored again under a new version id).
func sameCertificate(in *Installed, c *Candidate) bool {
	return in.Serial == c.Leaf.SerialNumber.Text(16) && in.NotBefore.Equal(c.Leaf.NotBefore) && in.NotAfter.Equal(c.Leaf.NotAfter)
}

// succeed records a successful poll; in is the newly installed version, or
// nil when nothing changed.
func (a *Agent) succeed(st *certState, in *Installed) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st.checked, st.synced, st.err, st.kind, st.failures, st.refused = true, true, nil, "", 0, ""
	if in != nil {
		st.installed, st.lastChange = in, a.now()
		for _, h := range st.t.Hooks {
			st.pending[h.key()] = h
		}
	}
}

// fail records a failed poll.
func (a *Agent) fail(st *certState, err error) {
	kind := kindOf(err)
	a.metrics.pollErrors.WithLabelValues(st.t.URL, st.t.Label(), string(kind)).Inc()
	a.mu.Lock()
	defer a.mu.Unlock()
	st.err, st.kind = err, kind
	st.lastErr, st.lastErrAt = err.Error(), a.now()
	st.failures++
	var re *RefusedError
	if errors.As(err, &re) {
		if st.refused == re.Version {
			return // reported already
		}
		st.refused = re.Version
	}
	level := slog.LevelWarn
	if !kind.Transient() && kind != KindUnavailable {
		level = slog.LevelError
	}
	a.log.Log(context.Background(), level, "certificate not updated; the installed files stay", "link", st.t.Label(), "kind", kind, "err", err)
}

// settle computes st's state; a.mu is held.
func (a *Agent) settle(st *certState) {
	switch {
	case st.err == nil && st.hookErr == nil && len(st.pending) == 0:
		st.state = StateSuccess
	case st.err == nil:
		st.state = StateWarning // installed; a hook must still run
	case st.kind == KindUnavailable:
		st.state = StateWarning
	case st.kind == KindNetwork && st.installed != nil && a.now().Before(st.installed.NotAfter):
		st.state = StateWarning
	default:
		st.state = StateError
	}
}
