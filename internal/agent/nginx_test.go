package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/certkit"
	"github.com/tegata-project/tegata/internal/testenv"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestNginxReloadAcrossRenewals serves the installed files with Debian's
// nginx (one server on the extension's link, one on the extra formats),
// renews three times with an `nginx -s reload` hook, and checks with a Go
// TLS client, requesting in a loop across every swap, that no request fails
// and that the new serial is served after each renewal; openssl s_client
// confirms the last one. The first install's hook fails (nginx is not
// running yet) and is retried on the next sync.
func TestNginxReloadAcrossRenewals(t *testing.T) {
	nginx := testenv.Program(t, "nginx", "nginx")
	e := newEnv(t)
	prefix := t.TempDir()
	portLink, portFormats := freePort(t), freePort(t)
	link := filepath.Join(e.store, "127-0-0-1.www")
	current := link + ".d/current"
	conf := filepath.Join(prefix, "nginx.conf")
	user := ""
	if os.Geteuid() == 0 {
		user = "user root root;"
	}
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`%[1]s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path %[2]s/body;
  proxy_temp_path %[2]s/proxy;
  fastcgi_temp_path %[2]s/fastcgi;
  uwsgi_temp_path %[2]s/uwsgi;
  scgi_temp_path %[2]s/scgi;
  server {
    listen 127.0.0.1:%[3]d ssl;
    ssl_certificate %[4]s;
    ssl_certificate_key %[4]s;
    location / { return 200 "link\n"; }
  }
  server {
    listen 127.0.0.1:%[5]d ssl;
    ssl_certificate %[6]s/fullchain.pem;
    ssl_certificate_key %[6]s/key.pem;
    location / { return 200 "formats\n"; }
  }
}
`, user, prefix, portLink, link, portFormats, current)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	ngx := []string{nginx, "-p", prefix, "-c", conf, "-e", filepath.Join(prefix, "error.log")}
	hook := fmt.Sprintf(`[{"exec":[%q,"-p",%q,"-c",%q,"-e",%q,"-s","reload"],"timeoutS":30}]`, ngx[0], ngx[2], ngx[4], ngx[6])
	s := mustParse(t, []byte(e.settings([]string{"www"}, "", `,"formats":["fullchain.pem","key.pem"],"hooks":`+hook)), ParseOptions{})
	a, err := New(Options{Plan: mustPlan(t, s, "linux")}) // real hooks, real clock
	if err != nil {
		t.Fatal(err)
	}
	material := func(age time.Duration) certkit.Material {
		now := time.Now().Add(age)
		k, c := e.pki.leaf(t, now.Add(-time.Hour), now.Add(30*24*time.Hour), "localhost", "127.0.0.1")
		return certkit.Material{Key: k, Chain: []*x509.Certificate{c, e.pki.inter}}
	}
	m := material(0)
	e.vault.addPFX("www", m)
	// The files exist before nginx starts; the hook fails, as nginx is not
	// running yet, and is retried once it is.
	if r := a.SyncOnce(context.Background()); r.OK() || kindOf(r.Certificates[0].Err) != KindHook {
		t.Fatalf("first sync before nginx runs: %+v, want a hook failure", r.Certificates[0])
	}

	cmd := exec.Command(ngx[0], ngx[1:]...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", out.String(), log)
		}
	})

	roots := x509.NewCertPool()
	roots.AddCert(e.pki.root)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}, DisableKeepAlives: true}}
	serial := func(port int) (*big.Int, error) {
		resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/", port))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("status %s", resp.Status)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber, nil
	}
	waitServes := func(want *big.Int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			a, errA := serial(portLink)
			b, errB := serial(portFormats)
			if errA == nil && errB == nil && a.Cmp(want) == 0 && b.Cmp(want) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("nginx does not serve serial %x within 30 s: link %v %v, formats %v %v", want, a, errA, b, errB)
			}
		}
	}
	waitServes(m.Chain[0].SerialNumber)
	mustSync(t, a) // the failed reload is retried, now against a running nginx

	// Request continuously, on both servers, across the renewals.
	var requests, failures atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, port := range []int{portLink, portFormats} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := serial(port); err != nil {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
				}
				requests.Add(1)
			}
		}()
	}
	var last *big.Int
	for i := 1; i <= 3; i++ {
		m := material(time.Duration(i) * time.Minute)
		e.vault.addPFX("www", m)
		r := a.SyncOnce(context.Background())
		if !r.OK() {
			t.Fatalf("renewal %d: %v", i, r.Err())
		}
		waitServes(m.Chain[0].SerialNumber)
		last = m.Chain[0].SerialNumber
	}
	close(stop)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("%d of %d requests failed across the renewals; first: %v", n, requests.Load(), firstFailure.Load())
	}
	if requests.Load() == 0 {
		t.Error("no request ran during the renewals")
	}
	t.Logf("%d requests across 3 renewals, none failed", requests.Load())
	if runs, fails := metric(t, a, "tegata_agent_hook_runs_total"), metric(t, a, "tegata_agent_hook_failures_total"); runs != 5 || fails != 1 {
		t.Errorf("hook runs %v, failures %v; want 5 (a failure, its retry, three renewals) and 1", runs, fails)
	}

	openssl := testenv.Program(t, "openssl", "openssl")
	sc := exec.Command(openssl, "s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", portLink), "-servername", "localhost")
	sc.Stdin = strings.NewReader("")
	pemOut, err := sc.Output()
	if err != nil {
		t.Fatalf("openssl s_client: %v", err)
	}
	x := exec.Command(openssl, "x509", "-noout", "-serial")
	x.Stdin = strings.NewReader(string(pemOut))
	serialOut, err := x.Output()
	if err != nil {
		t.Fatalf("openssl x509: %v", err)
	}
	if got := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(serialOut)), "serial=")); !strings.EqualFold(got, fmt.Sprintf("%02X", last)) {
		t.Errorf("openssl sees serial %s, want %X", got, last)
	}
}
