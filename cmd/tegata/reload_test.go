package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/testenv"
)

func inventoryYAML(location string) string {
	return fmt.Sprintf(`instances:
  - name: vm-reload
    compute:
      location: %s
      vmId: 9b1d6a52-6d0e-4b7a-9c2f-1e5d7a9b0c11
    network:
      interface:
        - macAddress: 000D3A000001
          ipv4:
            ipAddress:
              - privateIpAddress: 10.9.0.4
default: vm-reload
`, location)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestInventoryReload edits the inventory of a running `tegata imds serve`: a good
// change is picked up by the file watch, a bad one is reported with file and line while
// the old inventory keeps serving, and SIGHUP reloads too.
func TestInventoryReload(t *testing.T) {
	bin := testenv.Tegata(t)
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.yaml")
	if err := os.WriteFile(inv, []byte(inventoryYAML("westeurope")), 0o600); err != nil {
		t.Fatal(err)
	}
	meta, admin := freePort(t), freePort(t)
	cmd := exec.Command(bin, "imds", "serve", "--listen", meta, "--admin-listen", admin, "--inventory", inv, "--data-dir", dir, "--log-format", "json")
	cmd.Env = append(os.Environ(), "TEGATA_IMDS_WATCH_INTERVAL=100ms")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	logs := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case logs <- sc.Text():
			default:
			}
		}
	}()
	location := func() string {
		return get(t, "http://"+meta+"/metadata/instance/compute/location?api-version=2021-02-01&format=text")
	}
	waitFor := func(want string) {
		t.Helper()
		for range 100 {
			if got := location(); got == want {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("location never became %q (now %q)", want, location())
	}
	waitListening(t, meta)
	waitFor("westeurope")

	// A good edit: picked up by the watch.
	writeFile(t, inv, inventoryYAML("japaneast"))
	waitFor("japaneast")

	// A bad edit: logged with file and line; the old inventory keeps serving.
	writeFile(t, inv, inventoryYAML("japaneast")+"  - name: vm-reload\n")
	deadline := time.After(10 * time.Second)
	var seen []string
	for found := false; !found; {
		select {
		case l := <-logs:
			seen = append(seen, l)
			found = strings.Contains(l, "inventory reload failed") && strings.Contains(l, "inventory.yaml:")
		case <-deadline:
			t.Fatalf("no reload error naming inventory.yaml:<line> was logged; logs:\n%s", strings.Join(seen, "\n"))
		}
	}
	if got := location(); got != "japaneast" {
		t.Fatalf("after a bad edit serving %q, want the old japaneast", got)
	}

	// SIGHUP reloads a file whose stamp the watch has already seen.
	writeFile(t, inv, inventoryYAML("eastus"))
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor("eastus")
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}
