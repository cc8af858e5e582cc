package agent

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// Polling and backoff (C.4, C.5).
const (
	// InitialSyncAttempts is how many passes the initial sync gets, with
	// requireInitialSync, before the agent gives up (Azure's count).
	InitialSyncAttempts = 25
	// backoffBase is the first retry delay after a failure; it doubles.
	backoffBase = 5 * time.Second
	// initialSyncCap caps the retry delay while the initial sync gates.
	initialSyncCap = 60 * time.Second
	// maxJitter caps the jitter added to each delay.
	maxJitter = 60 * time.Second
)

// Run polls until ctx ends, and returns nil then. Each certificate is polled
// every PollingInterval with ±10 % jitter (at most ±60 s); after a failure,
// or while a reload hook keeps failing, it is retried after 5 s, doubling
// per failure up to the interval (up to 60 s while the initial sync gates).
// A 429's Retry-After is honoured.
//
// Without requireInitialSync the agent is ready at once. With it, the agent
// becomes ready when every certificate has been read from the vault and is
// installed, or, when the vault cannot be reached, is already installed
// from an earlier run and unexpired; after InitialSyncAttempts passes
// without that, Run writes the error state and returns an error wrapping
// ErrInitialSync. Readiness is reported in the status file, on /readyz and
// to systemd (READY=1, for Type=notify units).
func (a *Agent) Run(ctx context.Context) error {
	a.restoreOnce.Do(a.restorePending)
	a.mu.Lock()
	gating := a.plan.RequireInitialSync
	if !gating {
		a.setReadyLocked()
	}
	a.mu.Unlock()
	a.writeStatus()
	attempts := 0
	for {
		a.pass(ctx, a.dueCerts())
		if ctx.Err() != nil {
			return nil
		}
		if gating && !a.Ready() {
			if msg, ok := a.initialSyncDone(); ok {
				a.mu.Lock()
				a.setReadyLocked()
				a.mu.Unlock()
				a.log.Info("initial sync complete: ready", "certificates", len(a.certs))
				a.writeStatus()
			} else if attempts++; attempts >= InitialSyncAttempts {
				a.mu.Lock()
				a.failed = true
				a.mu.Unlock()
				a.writeStatus()
				return fmt.Errorf("%w after %d attempts: %s", ErrInitialSync, attempts, msg)
			} else {
				a.log.Warn("initial sync incomplete; retrying", "attempt", attempts, "of", InitialSyncAttempts, "problem", msg)
			}
		}
		if err := a.sleep(ctx, a.nextWait()); err != nil {
			return nil
		}
	}
}

// initialSyncDone reports whether every certificate satisfies the initial
// sync, or describes the first that does not.
func (a *Agent) initialSyncDone() (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for _, st := range a.certs {
		fresh := st.synced && st.err == nil
		kept := st.err != nil && st.kind.Transient() && st.installed != nil && now.Before(st.installed.NotAfter)
		if !fresh && !kept {
			if st.err != nil {
				return fmt.Sprintf("%s: %v", st.t.Label(), st.err), false
			}
			return st.t.Label() + ": not installed yet", false
		}
	}
	return "", true
}

// dueCerts returns the certificates whose next poll is due.
func (a *Agent) dueCerts() []*certState {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var due []*certState
	for _, st := range a.certs {
		if !now.Before(st.due) {
			due = append(due, st)
		}
	}
	return due
}

// nextWait is the time until the next certificate is due.
func (a *Agent) nextWait() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.certs) == 0 {
		return a.plan.PollingInterval
	}
	next := a.certs[0].due
	for _, st := range a.certs[1:] {
		if st.due.Before(next) {
			next = st.due
		}
	}
	return max(next.Sub(a.now()), 0)
}

// delay is how long until st's next poll; a.mu is held.
func (a *Agent) delay(st *certState) time.Duration {
	interval := a.plan.PollingInterval
	if st.err == nil && len(st.pending) == 0 {
		return a.jittered(interval)
	}
	limit := interval
	if a.plan.RequireInitialSync && !a.ready {
		limit = min(interval, initialSyncCap)
	}
	n := max(st.failures, st.hookFailures, 1)
	d := limit
	if n < 20 {
		d = min(backoffBase<<(n-1), limit)
	}
	if st.retryAfter > d {
		d = min(st.retryAfter, interval)
	}
	return a.jittered(d)
}

// jittered adds ±10 % of d, at most ±60 s.
func (a *Agent) jittered(d time.Duration) time.Duration {
	j := min(d/10, maxJitter)
	return d + time.Duration(a.jitter()*float64(j))
}

func randJitter() float64 { return rand.Float64()*2 - 1 }

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runPendingHooks runs each pending hook once, however many certificates
// wait for it, and clears it for all of them when it succeeds. A failure
// keeps it pending for the next pass.
func (a *Agent) runPendingHooks(ctx context.Context) {
	type job struct {
		hook  Hook
		links []string
		certs []*certState
	}
	a.mu.Lock()
	jobs := map[string]*job{}
	for _, st := range a.certs {
		for k, h := range st.pending {
			j := jobs[k]
			if j == nil {
				j = &job{hook: h}
				jobs[k] = j
			}
			j.links = append(j.links, st.t.Label())
			j.certs = append(j.certs, st)
		}
	}
	a.mu.Unlock()
	keys := make([]string, 0, len(jobs))
	for k := range jobs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if ctx.Err() != nil {
			return
		}
		j := jobs[k]
		name := j.hook.String()
		a.metrics.hookRuns.WithLabelValues(name).Inc()
		err := a.runHook(ctx, j.hook, j.links)
		if err != nil {
			a.metrics.hookFailures.WithLabelValues(name).Inc()
			a.log.Error("reload hook failed; retried on the next poll", "hook", name, "links", j.links, "err", err)
		} else {
			a.log.Info("reload hook ran", "hook", name, "links", j.links)
		}
		a.mu.Lock()
		for _, st := range j.certs {
			if err != nil {
				st.hookErr = &PollError{Kind: KindHook, URL: st.t.URL, Err: err}
				st.lastErr, st.lastErrAt = err.Error(), a.now()
				st.hookFailures++
				continue
			}
			delete(st.pending, k)
			if len(st.pending) == 0 {
				st.hookErr, st.hookFailures = nil, 0
			}
		}
		a.mu.Unlock()
	}
}

// restorePending takes the hooks a previous run left pending from the
// status file, so that a restart does not forget a failed reload.
func (a *Agent) restorePending() {
	old, err := ReadStatus(a.plan.StatusFile)
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, cs := range old.Certificates {
		for _, st := range a.certs {
			if cs.URL != st.t.URL || cs.Link != st.t.Label() {
				continue
			}
			for _, name := range cs.PendingHooks {
				for _, h := range st.t.Hooks {
					if h.String() == name {
						st.pending[h.key()] = h
					}
				}
			}
		}
	}
}

// setReadyLocked marks the agent ready and tells systemd; a.mu is held.
func (a *Agent) setReadyLocked() {
	if a.ready {
		return
	}
	a.ready = true
	a.notify.send("READY=1")
}

// Status returns the agent's current status.
func (a *Agent) Status() *Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.statusLocked()
}

func (a *Agent) statusLocked() *Status {
	st := &Status{Version: StatusVersion, Time: a.now().UTC(), Ready: a.ready, Certificates: []CertStatus{}}
	installed, worst, firstErr := 0, StateSuccess, ""
	for _, c := range a.certs {
		cs := CertStatus{URL: c.t.URL, Link: c.t.Label(), LastPoll: timePtr(c.lastPoll), LastChange: timePtr(c.lastChange),
			State: c.state, LastError: c.lastErr, LastErrorTime: timePtr(c.lastErrAt), ConsecutiveFailures: c.failures}
		if c.installed != nil {
			installed++
			cs.InstalledVersion, cs.NotAfter, cs.Serial = c.installed.Version, timePtr(c.installed.NotAfter), c.installed.Serial
		}
		err := c.err
		if err == nil {
			err = c.hookErr
		}
		if err != nil {
			msg := err.Error()
			cs.Error, cs.ErrorKind = &msg, kindOf(err)
			if firstErr == "" {
				firstErr = c.t.Label() + ": " + msg
			}
		}
		for _, h := range c.t.Hooks {
			if _, ok := c.pending[h.key()]; ok {
				cs.PendingHooks = append(cs.PendingHooks, h.String())
			}
		}
		if c.state.rank() > worst.rank() {
			worst = c.state
		}
		st.Certificates = append(st.Certificates, cs)
	}
	st.Message = fmt.Sprintf("%d of %d certificates installed", installed, len(a.certs))
	switch {
	case a.failed:
		st.State = StateError
		st.Message = "initial sync failed: " + st.Message
	case a.passes == 0 || a.plan.RequireInitialSync && !a.ready:
		st.State = StateTransitioning
	default:
		st.State = worst
	}
	if firstErr != "" {
		st.Message += "; " + firstErr
	}
	return st
}

// writeStatus writes the status file and tells systemd the message.
func (a *Agent) writeStatus() {
	st := a.Status()
	a.notify.send("STATUS=" + st.Message)
	if err := WriteStatus(a.plan.StatusFile, st); err != nil {
		a.log.Warn("cannot write the status file", "path", a.plan.StatusFile, "err", err)
	}
}
