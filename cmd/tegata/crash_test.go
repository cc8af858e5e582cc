package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/testenv"
)

// TestVaultCrashSafetySQLite: kill -9 in the middle of a stream of writes; after a
// restart every acknowledged write is there.
func TestVaultCrashSafetySQLite(t *testing.T) { testCrashSafety(t, nil) }

// TestVaultCrashSafetyPostgres is the same on PostgreSQL.
func TestVaultCrashSafetyPostgres(t *testing.T) {
	pg := testenv.StartPostgres(t)
	dsn := pg.NewDatabase(t)
	testCrashSafety(t, []string{"TEGATA_STORE_DRIVER=postgres", "TEGATA_STORE_DSN=" + dsn})
}

func vaultHTTPClient(t *testing.T, dataDir string) *http.Client {
	t.Helper()
	pemCA, err := os.ReadFile(filepath.Join(dataDir, "tls-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 8}}
}

func testCrashSafety(t *testing.T, env []string) {
	dir := t.TempDir()
	p := startUpIn(t, dir, env)
	token := imdsToken(t, p.meta)
	client := vaultHTTPClient(t, dir)

	type ack struct{ name, version, value string }
	var mu sync.Mutex
	var acked []ack
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000 && !stop.Load(); i++ {
				name, value := fmt.Sprintf("crash-%d-%04d", w, i), fmt.Sprintf("value-%d-%d", w, i)
				req, _ := http.NewRequest("PUT", "https://"+p.vault+"/secrets/"+name+"?api-version=7.4", strings.NewReader(`{"value":"`+value+`"}`))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					continue
				}
				var b struct{ ID string }
				if json.Unmarshal(body, &b) != nil {
					continue // a torn answer is not an acknowledgement
				}
				mu.Lock()
				acked = append(acked, ack{name, b.ID[strings.LastIndexByte(b.ID, '/')+1:], value})
				mu.Unlock()
			}
		}()
	}
	// Kill when the stream is well under way, mid-write.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	stop.Store(true)
	wg.Wait()
	if len(acked) < 200 {
		t.Fatalf("only %d writes were acknowledged before the kill", len(acked))
	}

	p2 := startUpIn(t, dir, env)
	token = imdsToken(t, p2.meta)
	client = vaultHTTPClient(t, dir)
	missing := 0
	for _, a := range acked {
		req, _ := http.NewRequest("GET", "https://"+p2.vault+"/secrets/"+a.name+"/"+a.version+"?api-version=7.4", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"value":"`+a.value+`"`) {
			missing++
			if missing < 5 {
				t.Errorf("acknowledged %s/%s after restart: %d %s", a.name, a.version, resp.StatusCode, body)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", missing, len(acked))
	}
	t.Logf("%d acknowledged writes before kill -9, all present after restart", len(acked))
}
