package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tegata-project/tegata/internal/testenv"
)

var dashboardLine = regexp.MustCompile(`dashboard: (https://127\.0\.0\.1:\d+)(/dashboard/login\?code=\S+)`)

// startUpForDashboard runs `tegata up` like startUpIn and also returns the
// dashboard's one-time login link from its welcome text.
func startUpForDashboard(t *testing.T, dataDir string, env []string, extra ...string) (base, loginPath string) {
	t.Helper()
	args := append([]string{"up", "--imds-listen", "127.0.0.1:0", "--imds-admin-listen", "127.0.0.1:0", "--vault-listen", "127.0.0.1:0",
		"--data-dir", dataDir, "--log-format", "json"}, extra...)
	cmd := exec.Command(testenv.Tegata(t), args...)
	cmd.Env = append(append(os.Environ(), "TEGATA_PKI_PLAN_CA_KEY_ALGORITHM=ecdsa-p384"), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
		}
	})
	found := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := dashboardLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- [2]string{m[1], m[2]}
			}
		}
	}()
	select {
	case f := <-found:
		return f[0], f[1]
	case <-time.After(30 * time.Second):
		t.Fatal("tegata up printed no dashboard login link within 30s")
		return "", ""
	}
}

// TestDashboardInChromium drives the renewal dashboard of `tegata up` in real
// headless Chromium: sign in with the banner's one-time link, add a certificate
// through the form and watch it be issued by Pebble, renew it and see the serial
// (and expiry) change, revoke it (Pebble confirms) and delete it.
func TestDashboardInChromium(t *testing.T) {
	chromium := testenv.Program(t, "chromium", "chromium")
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	dir, conf := renewConfig(t, peb, "  tick: 1m\n")
	base, loginPath := startUpForDashboard(t, filepath.Join(dir, "data"), []string{"LEGO_DISABLE_CNAME_SUPPORT=true"}, "--config", conf)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		// No network but the loopback: nothing in the background, no proxy.
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-proxy-server", true),
		// The vault's certificate is from tegata's local CA, which Chromium does not know.
		chromedp.Flag("ignore-certificate-errors", true),
	)...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	// The first action starts the browser, which lives as long as bctx: the
	// steps below run on shorter contexts derived from it.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	// page describes where the browser is, for failure messages.
	page := func() string {
		sctx, cancel := context.WithTimeout(bctx, 5*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(sctx, chromedp.Location())
		html, _ := chromedp.Run(sctx, chromedp.OuterHTML(chromedp.CSS("main")))
		return loc + "\n" + html
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("%s: %v; the browser is at %s", what, err, page())
		}
	}
	text := func(sel string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 10*time.Second)
		defer cancel()
		s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v; the browser is at %s", sel, err, page())
		}
		return strings.TrimSpace(s)
	}
	// at waits (bounded) until the browser is on a page whose URL (path and
	// query) contains want; atPath until its path is exactly want.
	waitURL := func(want string, ok func(*url.URL) bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			sctx, cancel := context.WithTimeout(bctx, 5*time.Second)
			loc, err := chromedp.Run(sctx, chromedp.Location())
			cancel()
			if u, perr := url.Parse(loc); err == nil && perr == nil && ok(u) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the browser is at %q (%v), want %s: %s", loc, err, want, page())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	at := func(want string) {
		t.Helper()
		waitURL(want, func(u *url.URL) bool { return strings.Contains(u.RequestURI(), want) })
	}
	atPath := func(want string) { t.Helper(); waitURL(want, func(u *url.URL) bool { return u.Path == want }) }
	detail := base + "/dashboard/certificates/shop-example-test"
	// waitState reloads the certificate's page until its state starts with want.
	waitState := func(want string, until func() bool) {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for {
			do("opening the certificate's page", chromedp.Navigate(detail))
			state := text("#state")
			if strings.HasPrefix(state, want) && until() {
				return
			}
			if strings.Contains(state, "failed") || time.Now().After(deadline) {
				t.Fatalf("state %q, last error %q; want %q", state, text("#last-error"), want)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	waitDashboard(t, base)
	do("signing in with the login link", chromedp.Navigate(base+loginPath), chromedp.Click(chromedp.CSS("#login-code")))
	atPath("/dashboard/")
	do("the certificate list", chromedp.WaitVisible(chromedp.CSS("#empty")))
	if p := text("#principal"); p == "" {
		t.Error("the list names no signed-in principal")
	}

	do("opening the add form", chromedp.Click(chromedp.CSS("#add-link")))
	atPath("/dashboard/new")
	do("filling the add form",
		chromedp.SetValue(chromedp.CSS("#dnsNames"), "shop.example.test\nwww.shop.example.test"),
		chromedp.SetValue(chromedp.CSS("#key"), "EC P-384"),
		chromedp.SetValue(chromedp.CSS("#challenge"), "dns:test-dns"),
		// Pebble picks a random profile for an order that names none: name one,
		// so the renewal's expiry is comparable with the first.
		chromedp.SetValue(chromedp.CSS("#profile"), "default"),
		chromedp.Click(chromedp.CSS("#add")))
	at("/dashboard/certificates/shop-example-test")
	waitState("valid", func() bool { return true })
	serial, expires := text("#serial"), text("#expires")
	if names := text("#dns-names"); names != "shop.example.test, www.shop.example.test" || serial == "—" || !strings.Contains(text("#issued"), "1 time") {
		t.Fatalf("after issuance: names %q, serial %q, issued %q", names, serial, text("#issued"))
	}
	t.Logf("issued serial %s, expires %s", serial, expires)

	do("pressing renew", chromedp.Click(chromedp.CSS("#renew")))
	at("done=renewing")
	waitState("valid", func() bool { return text("#serial") != serial })
	newSerial, newExpires := text("#serial"), text("#expires")
	if !strings.Contains(text("#issued"), "2 time") || newExpires <= expires {
		t.Errorf("after renewal: issued %q, expiry %s (was %s)", text("#issued"), newExpires, expires)
	}
	t.Logf("renewed: serial %s, expires %s", newSerial, newExpires)

	do("opening revoke", chromedp.Click(chromedp.CSS("#revoke-link")))
	at("/revoke")
	do("confirming the revocation", chromedp.SetValue(chromedp.CSS("#reason"), "keyCompromise"), chromedp.Click(chromedp.CSS("#confirm")))
	at("done=revoked")
	if r := text("#revoked"); !strings.Contains(r, "keyCompromise") || !strings.HasPrefix(text("#state"), "revoked") {
		t.Errorf("after revocation: revoked %q, state %q", r, text("#state"))
	}
	resp, err := peb.HTTPClient().Get(peb.ManagementURL + "/cert-status-by-serial/" + newSerial)
	if err != nil {
		t.Fatal(err)
	}
	var status struct{ Status string }
	json.NewDecoder(resp.Body).Decode(&status)
	resp.Body.Close()
	if status.Status != "Revoked" {
		t.Errorf("Pebble says serial %s is %q, want Revoked", newSerial, status.Status)
	}

	do("opening delete", chromedp.Click(chromedp.CSS("#delete-link")))
	at("/delete")
	do("confirming the deletion", chromedp.Click(chromedp.CSS("#confirm")))
	at("done=deleted")
	do("the list after deletion", chromedp.WaitVisible(chromedp.CSS("#empty")))
	if f := text("#flash"); !strings.HasPrefix(f, "Deleted") {
		t.Errorf("flash after deletion: %q", f)
	}
}

// waitDashboard waits (bounded) until the dashboard answers: it starts with the
// renewal service, once its ACME account is registered.
func waitDashboard(t *testing.T, base string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(base + "/dashboard/login")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard at %s did not start within 30s (%v)", base, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
