package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/testenv"
)

// TestRenewalReachesNginx is the deploy agent's acceptance, end to end with real parts:
// `tegata up` (metadata service, vault, renewal service issuing from Pebble), the agent
// with Linux-style extension settings, and Debian's nginx serving the installed file.
// A renewal is installed by the agent within one polling interval, nginx is reloaded by
// the agent's hook, openssl sees the new serial, and no request fails across the swap.
func TestRenewalReachesNginx(t *testing.T) {
	nginx := testenv.Program(t, "nginx", "nginx")
	openssl := testenv.Program(t, "openssl", "openssl")
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	dir, conf := renewConfig(t, peb, `  certificates:
    - {dns_names: [www.example.test], dns_provider: test-dns}
`)
	p := startUpIn(t, filepath.Join(dir, "data"), []string{"LEGO_DISABLE_CNAME_SUPPORT=true"}, "--config", conf)
	waitIssued(t, p, conf, 1)

	// nginx, reloaded by the agent's hook.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	store := filepath.Join(dir, "store")
	ngx := filepath.Join(dir, "nginx")
	os.MkdirAll(filepath.Join(ngx, "tmp"), 0o700)
	ngxConf := filepath.Join(ngx, "nginx.conf")
	os.WriteFile(ngxConf, []byte(fmt.Sprintf(`worker_processes 1;
error_log %[1]s/error.log;
pid %[1]s/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp; proxy_temp_path %[1]s/tmp; fastcgi_temp_path %[1]s/tmp;
  uwsgi_temp_path %[1]s/tmp; scgi_temp_path %[1]s/tmp;
  server {
    listen 127.0.0.1:%[2]d ssl;
    ssl_certificate %[3]s/www;
    ssl_certificate_key %[3]s/www;
    location / { return 200 "ok\n"; }
  }
}
`, ngx, port, store)), 0o600)

	settings := filepath.Join(dir, "settings.json")
	status := filepath.Join(dir, "status.json")
	os.WriteFile(settings, []byte(fmt.Sprintf(`{
 "secretsManagementSettings": {
   "pollingIntervalInS": "60", "requireInitialSync": true,
   "observedCertificates": [{"url": "https://%s/secrets/www-example-test",
     "certificateStoreLocation": %q, "customSymbolicLinkName": "www"}]},
 "authenticationSettings": {"msiEndpoint": "http://%s/metadata/identity"},
 "tegata": {"caFile": %q, "statusFile": %q,
   "hooks": [{"exec": [%q, "-s", "reload", "-c", %q], "timeoutS": 30}]}}`,
		p.vault, store, p.meta, filepath.Join(p.data, "tls-ca.pem"), status, nginx, ngxConf)), 0o600)

	// The first install: its reload hook fails, nginx not running yet (the agent reports
	// it and retries the hook on its next poll), but the files are in place.
	once, _ := exec.Command(p.bin, "agent", "once", "--settings", settings).CombinedOutput()
	if _, err := os.Stat(filepath.Join(store, "www")); err != nil {
		t.Fatalf("agent once installed nothing: %v\n%s", err, once)
	}
	if out, err := exec.Command(nginx, "-c", ngxConf).CombinedOutput(); err != nil {
		t.Fatalf("starting nginx: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(nginx, "-s", "quit", "-c", ngxConf).Run() })
	agent := exec.Command(p.bin, "agent", "run", "--settings", settings)
	agent.Stderr = os.Stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Signal(syscall.SIGTERM); agent.Wait() })

	addr := fmt.Sprintf("127.0.0.1:%d", port)
	first := servedSerial(t, addr)
	if first == "" {
		t.Fatal("nginx serves no certificate")
	}
	// Requests run across the renewal and the reload; none may fail.
	var requests, failures atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			requests.Add(1)
			if servedSerial(t, addr) == "" {
				failures.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if out := p.must(t, `tegata renew now www-example-test --admin `+p.admin); !strings.HasPrefix(out, "renewed www-example-test") {
		t.Fatalf("renew now: %s", out)
	}
	renewedAt := time.Now()
	var second string
	for time.Since(renewedAt) < 80*time.Second { // one 60 s interval, its jitter, the hook
		if s := servedSerial(t, addr); s != "" && s != first {
			second = s
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if second == "" {
		b, _ := os.ReadFile(status)
		t.Fatalf("nginx still serves %s %s after the renewal; agent status: %s", first, time.Since(renewedAt), b)
	}
	t.Logf("the agent installed the renewal and nginx served it %s after it was issued; %d requests, %d failed", time.Since(renewedAt).Round(time.Second), requests.Load(), failures.Load())
	if failures.Load() != 0 || requests.Load() < 10 {
		t.Errorf("%d of %d requests to nginx failed across the swap", failures.Load(), requests.Load())
	}
	out, err := exec.Command("bash", "-c", fmt.Sprintf(`%s s_client -connect %s -servername www.example.test </dev/null 2>/dev/null | %s x509 -noout -serial`, openssl, addr, openssl)).Output()
	seen := strings.TrimLeft(strings.ToUpper(strings.TrimPrefix(strings.TrimSpace(string(out)), "serial=")), "0")
	if err != nil || seen != strings.TrimLeft(second, "0") {
		t.Errorf("openssl s_client sees %q, want serial %s", out, second)
	}
	var st struct {
		State string `json:"state"`
	}
	if b, err := os.ReadFile(status); err != nil || json.Unmarshal(b, &st) != nil || st.State != "success" {
		t.Errorf("agent status: %s (%v)", b, err)
	}
}

// servedSerial returns the serial (upper-case hex) of the certificate addr serves,
// or "" when the handshake fails.
func servedSerial(t *testing.T, addr string) string {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{ServerName: "www.example.test", InsecureSkipVerify: true})
	if err != nil {
		return ""
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return ""
	}
	return strings.ToUpper(certs[0].SerialNumber.Text(16))
}

// waitIssued waits until `tegata renew list` shows n issues of the one certificate.
func waitIssued(t *testing.T, p *upProcess, conf string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var list []struct {
			Issued    int
			LastError string
		}
		out := p.must(t, `tegata --config `+conf+` --data-dir `+p.data+` renew list --output json`)
		json.Unmarshal([]byte(out), &list)
		if len(list) == 1 && list[0].Issued >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate issued within 60 s: %s", out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
