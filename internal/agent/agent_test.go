package agent

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tegata-project/tegata/internal/certkit"
)

// installed returns the version the link of secret name points to.
func (e *env) installed(name string) string {
	target, err := os.Readlink(filepath.Join(e.store, "127-0-0-1."+name))
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(target, "127-0-0-1."+name+".")
}

func metric(t *testing.T, a *Agent, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := a.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue next
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return 0
}

// TestFaultsKeepTheInstalledVersion drives each fault after a first
// install and checks that the installed files stay, the report fails, and
// the status and the metrics show the failure.
func TestFaultsKeepTheInstalledVersion(t *testing.T) {
	tests := []struct {
		name  string
		fault func(t *testing.T, e *env)
		kind  ErrorKind
		state State
		err   error  // wrapped by the report's error, if set
		text  string // in the status error
	}{
		{name: "vault down", kind: KindNetwork, state: StateWarning, text: "reaching the vault",
			fault: func(t *testing.T, e *env) { e.vault.srv.Close() }},
		{name: "vault 503", kind: KindNetwork, state: StateWarning, text: "503",
			fault: func(t *testing.T, e *env) { e.vault.set(func(v *fakeVault) { v.failNext = 100 }) }},
		{name: "token refused by the metadata service", kind: KindToken, state: StateError, text: "msiClientId",
			fault: func(t *testing.T, e *env) {
				e.imds.mu.Lock()
				e.imds.refuse, e.imds.issued = true, map[string]string{}
				e.imds.mu.Unlock()
			}},
		{name: "token refused by the vault", kind: KindToken, state: StateError, text: "refused the token twice",
			fault: func(t *testing.T, e *env) { e.vault.set(func(v *fakeVault) { v.rejectAll = true }) }},
		{name: "no role", kind: KindForbidden, state: StateError, text: "Key Vault Secrets User",
			fault: func(t *testing.T, e *env) { e.vault.set(func(v *fakeVault) { v.forbid = true }) }},
		{name: "disabled version", kind: KindUnavailable, state: StateWarning, text: "SecretDisabled",
			fault: func(t *testing.T, e *env) {
				e.vault.addPFX("site1", e.pki.material(t, time.Minute))
				e.vault.disableLatest("site1")
			}},
		{name: "key does not match", kind: KindRefused, state: StateError, err: ErrKeyMismatch,
			fault: func(t *testing.T, e *env) {
				m := e.pki.material(t, time.Minute)
				other := e.pki.material(t, time.Minute)
				m.Chain[0] = other.Chain[0]
				bundle := append(certkit.EncodePEM(certkit.Material{Key: m.Key, Chain: m.Chain[1:]}), certsPEM(m.Chain[:1])...)
				e.vault.add("site1", certkit.ContentTypePEM, string(bundle))
			}},
		{name: "expired version", kind: KindRefused, state: StateError, err: ErrExpired,
			fault: func(t *testing.T, e *env) {
				k, c := e.pki.leaf(t, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour), "www.example.test")
				e.vault.addPFX("site1", certkit.Material{Key: k, Chain: []*x509.Certificate{c, e.pki.inter}})
			}},
		{name: "not yet valid", kind: KindRefused, state: StateError, err: ErrNotYetValid,
			fault: func(t *testing.T, e *env) {
				k, c := e.pki.leaf(t, time.Now().Add(time.Hour), time.Now().Add(48*time.Hour), "www.example.test")
				e.vault.addPFX("site1", certkit.Material{Key: k, Chain: []*x509.Certificate{c, e.pki.inter}})
			}},
		{name: "older than installed", kind: KindRefused, state: StateError, err: ErrNotNewer,
			fault: func(t *testing.T, e *env) { e.vault.addPFX("site1", e.pki.material(t, -24*time.Hour)) }},
		{name: "broken chain", kind: KindRefused, state: StateError, err: ErrChain,
			fault: func(t *testing.T, e *env) {
				m := e.pki.material(t, time.Minute)
				stranger := newTestPKI(t)
				m.Chain = []*x509.Certificate{m.Chain[0], stranger.inter}
				e.vault.addPFX("site1", m)
			}},
		{name: "not a certificate", kind: KindRefused, state: StateError, err: ErrNotCertificate,
			fault: func(t *testing.T, e *env) { e.vault.add("site1", "text/plain", "s3cret") }},
		{name: "read-only directory", kind: KindInstall, state: StateError, text: "writing ",
			fault: func(t *testing.T, e *env) {
				e.vault.addPFX("site1", e.pki.material(t, time.Minute))
				readOnly(t, e.store)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.agent(e.settings([]string{"site1"}, "", ""), ParseOptions{})
			v1 := e.vault.addPFX("site1", e.pki.material(t, 0))
			mustSync(t, a)
			before, _ := os.ReadFile(filepath.Join(e.store, "127-0-0-1.site1"))
			e.clock.Advance(time.Minute)
			tc.fault(t, e)
			r := a.SyncOnce(context.Background())
			if r.OK() {
				t.Fatal("the report is OK after the fault")
			}
			cr := r.Certificates[0]
			if cr.State != tc.state || kindOf(cr.Err) != tc.kind {
				t.Errorf("state %s kind %s (%v), want %s %s", cr.State, kindOf(cr.Err), cr.Err, tc.state, tc.kind)
			}
			if tc.err != nil && !errors.Is(cr.Err, tc.err) {
				t.Errorf("error %v does not wrap %v", cr.Err, tc.err)
			}
			if got := e.installed("site1"); got != v1 {
				t.Errorf("installed %q, want %q kept", got, v1)
			}
			after, _ := os.ReadFile(filepath.Join(e.store, "127-0-0-1.site1"))
			if string(after) != string(before) {
				t.Error("the installed file changed")
			}
			st, err := ReadStatus(filepath.Join(e.store+"-status", "status.json"))
			if err != nil {
				t.Fatal(err)
			}
			cs := st.Certificates[0]
			if cs.Error == nil || cs.ErrorKind != tc.kind || cs.State != tc.state || cs.InstalledVersion != v1 || st.State != tc.state {
				t.Errorf("status %+v (overall %s)", cs, st.State)
			} else if tc.text != "" && !strings.Contains(*cs.Error, tc.text) {
				t.Errorf("status error %q lacks %q", *cs.Error, tc.text)
			}
			if got := metric(t, a, "tegata_agent_poll_errors_total", "kind", string(tc.kind)); got != 1 {
				t.Errorf("poll errors of kind %s: %v, want 1", tc.kind, got)
			}
			if got := metric(t, a, "tegata_agent_installs_total"); got != 1 {
				t.Errorf("installs %v, want 1", got)
			}
		})
	}
}

// TestRecoveryAfterFault checks that a certificate returns to success
// once the fault clears, and that a refused version is logged once but
// reported on every poll.
func TestRecoveryAfterFault(t *testing.T) {
	e := newEnv(t)
	a := e.agent(e.settings([]string{"site1"}, "", ""), ParseOptions{})
	e.vault.set(func(v *fakeVault) { v.failNext = 1 })
	if r := a.SyncOnce(context.Background()); r.OK() || r.Certificates[0].State != StateError {
		t.Errorf("vault 503 with nothing installed: %+v, want error", r.Certificates[0])
	}
	v := e.vault.addPFX("site1", e.pki.material(t, 0))
	r := mustSync(t, a)
	if r.Certificates[0].Version != v || a.Status().State != StateSuccess {
		t.Errorf("after recovery: %+v, status %s", r.Certificates[0], a.Status().State)
	}
}

// TestChallengeAndTokenCache checks the 401 challenge flow (A.4, C.3): one
// unauthenticated request per vault, one token while it is fresh, a new one
// when it nears expiry, and client_id when msiClientId is set.
func TestChallengeAndTokenCache(t *testing.T) {
	e := newEnv(t)
	e.vault.addPFX("site1", e.pki.material(t, 0))
	e.vault.addPFX("site2", e.pki.material(t, 0))
	settings := strings.Replace(e.settings([]string{"site1", "site2"}, "", ""), `"msiEndpoint":`,
		`"msiClientId":"00000000-1111-2222-3333-444444444444","msiEndpoint":`, 1)
	a := e.agent(settings, ParseOptions{})
	a.conc = 1 // the first request learns the resource for the second
	mustSync(t, a)
	mustSync(t, a)
	req, unauth := e.vault.counts()
	if unauth != 1 || req != 5 {
		t.Errorf("vault saw %d requests, %d unauthenticated; want 5 and 1 (one challenge)", req, unauth)
	}
	if n := e.imds.callCount(); n != 1 {
		t.Errorf("metadata service asked %d times, want 1 (cached token)", n)
	}
	if e.imds.clientID != "00000000-1111-2222-3333-444444444444" {
		t.Errorf("client_id %q", e.imds.clientID)
	}
	e.clock.Advance(56 * time.Minute) // within 5 minutes of the hour's expiry
	mustSync(t, a)
	if n := e.imds.callCount(); n != 2 {
		t.Errorf("metadata service asked %d times after 56 minutes, want 2", n)
	}
	// A token the vault stops accepting is dropped and replaced once.
	e.imds.mu.Lock()
	e.imds.issued = map[string]string{}
	e.imds.mu.Unlock()
	mustSync(t, a)
	if n := e.imds.callCount(); n != 3 {
		t.Errorf("after the vault refused the token: %d token requests, want 3", n)
	}
}

// TestConfiguredResourceSkipsTheChallenge checks tegata.resource.
func TestConfiguredResourceSkipsTheChallenge(t *testing.T) {
	e := newEnv(t)
	e.vault.addPFX("site1", e.pki.material(t, 0))
	mustSync(t, e.agent(e.settings([]string{"site1"}, "", `,"resource":"https://vault.test.example"`), ParseOptions{}))
	if _, unauth := e.vault.counts(); unauth != 0 {
		t.Errorf("%d unauthenticated requests with a configured resource", unauth)
	}
}

// TestChallengeResourceMustMatchTheVault checks that a vault addressed by
// name cannot ask for tokens for another domain.
func TestChallengeResourceMustMatchTheVault(t *testing.T) {
	e := newEnv(t)
	e.vault.addPFX("site1", e.pki.material(t, 0))
	addr := e.vault.srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	pool := x509.NewCertPool()
	pool.AddCert(e.pki.root)
	dialer := &net.Dialer{}
	client := newHTTPClient(pool, false)
	client.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, addr)
	}
	for _, tc := range []struct {
		resource string
		ok       bool
	}{{"https://vault.test.example", true}, {"https://management.test.example", false}} {
		e.vault.set(func(v *fakeVault) { v.resource = tc.resource })
		s := strings.Replace(e.settings([]string{"site1"}, "", ""), e.vault.srv.URL, "https://kv1.vault.test.example:"+port, 1)
		p := mustPlan(t, mustParse(t, []byte(s), ParseOptions{}), "linux")
		a, err := New(Options{Plan: p, Clock: e.clock.Now, VaultHTTP: client})
		if err != nil {
			t.Fatal(err)
		}
		calls := e.imds.callCount()
		r := a.SyncOnce(context.Background())
		if r.OK() != tc.ok {
			t.Errorf("resource %s: OK %v (%v), want %v", tc.resource, r.OK(), r.Err(), tc.ok)
		}
		if !tc.ok && (e.imds.callCount() != calls || !strings.Contains(r.Err().Error(), "doesn't match")) {
			t.Errorf("resource %s: a token was requested, or the error does not say why: %v", tc.resource, r.Err())
		}
	}
}

// TestHooksRunOnceAndRetry checks that a hook shared by two certificates
// runs once per pass, that a failing hook keeps the certificate in warning
// and is retried on the next poll until it succeeds, and that the failure
// is counted.
func TestHooksRunOnceAndRetry(t *testing.T) {
	e := newEnv(t)
	a := e.agent(e.settings([]string{"site1", "site2"}, "", `,"hooks":[{"exec":["systemctl","reload","nginx"]}]`), ParseOptions{})
	e.vault.addPFX("site1", e.pki.material(t, 0))
	e.vault.addPFX("site2", e.pki.material(t, 0))
	e.hookErr = errors.New("exit status 1: nginx: configuration file test failed")
	r := a.SyncOnce(context.Background())
	if r.OK() || r.Certificates[0].State != StateWarning || kindOf(r.Certificates[0].Err) != KindHook {
		t.Fatalf("failing hook: %+v", r.Certificates[0])
	}
	if runs := e.hookRuns(); len(runs) != 1 || runs[0] != "systemctl reload nginx" {
		t.Errorf("hook runs %v, want one for both certificates", runs)
	}
	st := a.Status()
	if st.State != StateWarning || len(st.Certificates[0].PendingHooks) != 1 || !strings.Contains(*st.Certificates[0].Error, "configuration file test failed") {
		t.Errorf("status %+v", st.Certificates[0])
	}
	if metric(t, a, "tegata_agent_hook_failures_total") != 1 {
		t.Error("hook failure not counted")
	}
	// Next poll: nothing new in the vault, the hook is retried and succeeds.
	e.hookErr = nil
	mustSync(t, a)
	if runs := e.hookRuns(); len(runs) != 2 {
		t.Errorf("hook runs %v, want a retry", runs)
	}
	if st := a.Status(); st.State != StateSuccess || st.Certificates[0].PendingHooks != nil {
		t.Errorf("after the retry: %+v", st)
	}
	// Nothing changed: no hook.
	mustSync(t, a)
	if runs := e.hookRuns(); len(runs) != 2 {
		t.Errorf("hook ran without a new version: %v", runs)
	}
}

// TestPendingHooksSurviveARestart checks that a hook that failed before a
// restart runs after it.
func TestPendingHooksSurviveARestart(t *testing.T) {
	e := newEnv(t)
	settings := e.settings([]string{"site1"}, "", `,"hooks":[{"exec":["/usr/sbin/nginx","-s","reload"]}]`)
	e.vault.addPFX("site1", e.pki.material(t, 0))
	e.hookErr = errors.New("nginx is down")
	if r := e.agent(settings, ParseOptions{}).SyncOnce(context.Background()); r.OK() {
		t.Fatal("hook failure not reported")
	}
	e.hookErr = nil
	a := e.agent(settings, ParseOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	a.sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if runs := e.hookRuns(); len(runs) != 2 {
		t.Errorf("hook runs %v, want the failed one retried after the restart", runs)
	}
}

// TestRealHookAndSignal runs a real command and sends a real signal.
func TestRealHookAndSignal(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	sh := "/bin/sh"
	if _, err := os.Stat(sh); err != nil {
		t.Skip("no /bin/sh")
	}
	err := runHook(context.Background(), Hook{Exec: []string{sh, "-c", `echo "$TEGATA_AGENT_LINKS" > ` + marker}, Timeout: 10 * time.Second}, []string{"/a", "/b"})
	if b, _ := os.ReadFile(marker); err != nil || strings.TrimSpace(string(b)) != "/a /b" {
		t.Errorf("hook: %v, wrote %q", err, b)
	}
	err = runHook(context.Background(), Hook{Exec: []string{sh, "-c", "echo broken config >&2; exit 3"}, Timeout: 10 * time.Second}, nil)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "broken config") {
		t.Errorf("failing hook: %v", err)
	}
	err = runHook(context.Background(), Hook{Exec: []string{sh, "-c", "sleep 30"}, Timeout: time.Second}, nil)
	if err == nil || !strings.Contains(err.Error(), "no exit within") {
		t.Errorf("hanging hook: %v", err)
	}
	// A signal to a child process that records it.
	pidFile := filepath.Join(dir, "pid")
	got := filepath.Join(dir, "got")
	ready := filepath.Join(dir, "ready")
	cmd := exec.Command(sh, "-c", `trap 'echo HUP > `+got+`; exit 0' HUP; echo $$ > `+pidFile+`; touch `+ready+`; while :; do sleep 0.05; done`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, func() bool { _, err := os.Stat(ready); return err == nil })
	if err := runHook(context.Background(), Hook{Signal: "hup", PIDFile: pidFile}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { b, _ := os.ReadFile(got); return strings.TrimSpace(string(b)) == "HUP" })
	if err := runHook(context.Background(), Hook{Signal: "HUP", PIDFile: filepath.Join(dir, "missing")}, nil); err == nil {
		t.Error("signal to a missing pid file succeeded")
	}
}

// waitFor polls cond until it holds, failing after 20 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 20 s")
}

// TestServer checks /healthz, /readyz and /metrics.
func TestServer(t *testing.T) {
	e := newEnv(t)
	a := e.agent(e.settings([]string{"site1"}, `"requireInitialSync":true,`, ""), ParseOptions{})
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before the initial sync: %d", code)
	}
	e.vault.addPFX("site1", e.pki.material(t, 0))
	ctx, cancel := context.WithCancel(context.Background())
	a.sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/readyz"); code != http.StatusOK || !strings.Contains(body, `"state":"success"`) {
		t.Errorf("/readyz after the initial sync: %d %s", code, body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz %d", code)
	}
	_, body := get("/metrics")
	for _, want := range []string{"tegata_agent_cert_days_to_expiry{", "tegata_agent_cert_not_after_seconds{", "tegata_agent_installs_total{",
		"tegata_agent_ready 1", `tegata_agent_cert_state{link="` + filepath.Join(e.store, "127-0-0-1.site1") + `",state="success",url="`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if err := testutil.GatherAndCompare(a.metrics.reg, strings.NewReader(""), "tegata_agent_hook_failures_total"); err != nil {
		t.Errorf("hook failures reported without a hook: %v", err)
	}
	days := metric(t, a, "tegata_agent_cert_days_to_expiry")
	if days < 89 || days > 90.1 {
		t.Errorf("days to expiry %v, want about 90", days)
	}
}
