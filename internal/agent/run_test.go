package agent

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sleeper replaces Agent.sleep: it records each wait, advances the fake
// clock by it, and cancels the run after max waits.
type sleeper struct {
	clock  *fakeClock
	waits  []time.Duration
	max    int
	cancel context.CancelFunc
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.waits = append(s.waits, d)
	if len(s.waits) >= s.max {
		s.cancel()
		return context.Canceled
	}
	s.clock.Advance(d)
	return nil
}

func runWith(t *testing.T, e *env, a *Agent, maxWaits int) (*sleeper, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &sleeper{clock: e.clock, max: maxWaits, cancel: cancel}
	a.sleep = s.sleep
	return s, a.Run(ctx)
}

// TestInitialSyncGivesUp is C-5: with requireInitialSync and the vault
// down, 25 attempts with increasing backoff (capped at 60 s, never a busy
// loop), then the error state and ErrInitialSync.
func TestInitialSyncGivesUp(t *testing.T) {
	e := newEnv(t)
	a := e.agent(e.settings([]string{"site1"}, `"requireInitialSync":true,`, ""), ParseOptions{})
	e.vault.srv.Close()
	s, err := runWith(t, e, a, 1000)
	if !errors.Is(err, ErrInitialSync) || !strings.Contains(err.Error(), "after 25 attempts") {
		t.Fatalf("Run: %v, want ErrInitialSync after 25 attempts", err)
	}
	if len(s.waits) != InitialSyncAttempts-1 {
		t.Errorf("%d waits between 25 attempts, want 24", len(s.waits))
	}
	for i, w := range s.waits {
		base := min(backoffBase<<i, initialSyncCap)
		if w < base*9/10 || w > base*11/10 {
			t.Errorf("wait %d = %v, want %v ±10 %%", i, w, base)
		}
	}
	st := a.Status()
	if st.State != StateError || st.Ready || !strings.HasPrefix(st.Message, "initial sync failed") {
		t.Errorf("status %s ready %v %q", st.State, st.Ready, st.Message)
	}
	if a.Ready() {
		t.Error("ready after a failed initial sync")
	}
}

// TestInitialSyncWaitsThenReady checks that the agent is not ready until the
// certificate is installed, then is, and polls at the interval afterwards.
func TestInitialSyncWaitsThenReady(t *testing.T) {
	e := newEnv(t)
	a := e.agent(e.settings([]string{"site1"}, `"requireInitialSync":true,`, ""), ParseOptions{})
	a.jitter = func() float64 { return 0 }
	var readyAt []bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	a.sleep = func(_ context.Context, d time.Duration) error {
		n++
		readyAt = append(readyAt, a.Ready())
		if n == 2 { // the secret appears after two failed attempts
			e.vault.addPFX("site1", e.pki.material(t, 0))
		}
		if n == 5 {
			cancel()
			return context.Canceled
		}
		e.clock.Advance(d)
		return nil
	}
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if readyAt[0] || readyAt[1] || !readyAt[2] {
		t.Errorf("ready after each pass: %v, want false, false, then true", readyAt)
	}
	if st := a.Status(); st.State != StateSuccess || !st.Ready {
		t.Errorf("status %s ready %v", st.State, st.Ready)
	}
}

// TestInitialSyncAcceptsInstalledFilesWhenTheVaultIsDown checks the choice
// documented on Run: after a reboot with the vault unreachable, valid
// installed files satisfy the initial sync.
func TestInitialSyncAcceptsInstalledFilesWhenTheVaultIsDown(t *testing.T) {
	e := newEnv(t)
	settings := e.settings([]string{"site1"}, `"requireInitialSync":true,`, "")
	e.vault.addPFX("site1", e.pki.material(t, 0))
	mustSync(t, e.agent(settings, ParseOptions{}))
	e.vault.srv.Close()
	a := e.agent(settings, ParseOptions{})
	if _, err := runWith(t, e, a, 1); err != nil {
		t.Fatal(err)
	}
	if st := a.Status(); !st.Ready || st.State != StateWarning {
		t.Errorf("status %s ready %v: want ready, in warning", st.State, st.Ready)
	}
}

// TestPollingSchedule checks the steady-state schedule: the interval with
// jitter, backoff after failures capped at the interval, Retry-After.
func TestPollingSchedule(t *testing.T) {
	e := newEnv(t)
	a := e.agent(e.settings([]string{"site1"}, "", ""), ParseOptions{})
	st := a.certs[0]
	for _, tc := range []struct {
		interval, want time.Duration
		jitter         float64
		failures       int
		retryAfter     time.Duration
	}{
		{interval: time.Hour, jitter: 0, want: time.Hour},
		{interval: time.Hour, jitter: 1, want: time.Hour + 60*time.Second}, // 10 % is 6 min: capped at 60 s
		{interval: time.Hour, jitter: -1, want: time.Hour - 60*time.Second},
		{interval: 300 * time.Second, jitter: 1, want: 330 * time.Second},
		{interval: 300 * time.Second, jitter: -0.5, want: 285 * time.Second},
		{interval: time.Hour, failures: 1, want: 5 * time.Second},
		{interval: time.Hour, failures: 4, want: 40 * time.Second},
		{interval: 300 * time.Second, failures: 10, want: 300 * time.Second},
		{interval: time.Hour, failures: 60, want: time.Hour},
		{interval: time.Hour, failures: 1, retryAfter: 120 * time.Second, want: 120 * time.Second},
		{interval: 60 * time.Second, failures: 1, retryAfter: 600 * time.Second, want: 60 * time.Second},
	} {
		a.plan.PollingInterval = tc.interval
		a.jitter = func() float64 { return tc.jitter }
		st.failures, st.retryAfter, st.err = tc.failures, tc.retryAfter, nil
		if tc.failures > 0 {
			st.err = errors.New("x")
		}
		if got := a.delay(st); got != tc.want {
			t.Errorf("interval %v jitter %v failures %d retry-after %v: delay %v, want %v",
				tc.interval, tc.jitter, tc.failures, tc.retryAfter, got, tc.want)
		}
	}
	for i := 0; i < 1000; i++ {
		if j := randJitter(); j < -1 || j >= 1 {
			t.Fatalf("jitter %v outside [-1, 1)", j)
		}
	}
}

// TestRunPollsAtTheInterval runs the loop with a recorded sleep: after the
// first pass the agent waits the interval (±10 %), and a new version in
// the vault is installed on the next poll.
func TestRunPollsAtTheInterval(t *testing.T) {
	e := newEnv(t)
	a := e.agent(e.settings([]string{"site1"}, "", ""), ParseOptions{})
	e.vault.addPFX("site1", e.pki.material(t, 0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	var v2 string
	a.sleep = func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		if len(waits) == 1 {
			v2 = e.vault.addPFX("site1", e.pki.material(t, time.Minute))
		}
		if len(waits) == 3 {
			cancel()
			return context.Canceled
		}
		e.clock.Advance(d)
		return nil
	}
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	for i, w := range waits {
		if w < 3540*time.Second || w > 3660*time.Second {
			t.Errorf("wait %d = %v, want 3600 s ±60 s", i, w)
		}
	}
	if got := e.installed("site1"); got != v2 {
		t.Errorf("installed %q after the next poll, want %q", got, v2)
	}
	if !a.Ready() {
		t.Error("not ready without requireInitialSync")
	}
}

// TestSystemdNotify checks READY=1 on NOTIFY_SOCKET.
func TestSystemdNotify(t *testing.T) {
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Skipf("unix datagram sockets: %v", err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	e := newEnv(t)
	e.vault.addPFX("site1", e.pki.material(t, 0))
	a := e.agent(e.settings([]string{"site1"}, "", ""), ParseOptions{})
	if _, err := runWith(t, e, a, 1); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(msgs) < 3 {
		n, err := conn.Read(buf)
		if err != nil {
			break
		}
		msgs = append(msgs, string(buf[:n]))
	}
	if len(msgs) == 0 || msgs[0] != "READY=1" {
		t.Errorf("messages %q, want READY=1 first", msgs)
	}
	found := false
	for _, m := range msgs {
		found = found || m == "STATUS=1 of 1 certificates installed"
	}
	if !found {
		t.Errorf("messages %q lack the status", msgs)
	}
}
