package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/testenv"
)

// TestServeOnLinkLocalAddress is the documented recipe for Azure's own address
// (docs/imds.md, "Serving on 169.254.169.254"): a network namespace whose loopback
// carries 169.254.169.254/32, tegata listening there on port 80, and the
// documentation's curl command run inside the namespace with nothing swapped.
func TestServeOnLinkLocalAddress(t *testing.T) {
	testenv.Root(t, "network namespaces need root")
	ip := testenv.Program(t, "ip", "iproute2")
	testenv.Program(t, "curl", "curl")
	bin := testenv.Tegata(t)

	ns := fmt.Sprintf("tegata-test-%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command(ip, "netns", "del", ns).Run() })
	run("-n", ns, "link", "set", "lo", "up")
	run("-n", ns, "addr", "add", "169.254.169.254/32", "dev", "lo")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := exec.CommandContext(ctx, ip, "netns", "exec", ns, bin, "imds", "serve",
		"--listen", "169.254.169.254:80", "--admin-listen", "127.0.0.1:8255", "--data-dir", t.TempDir())
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Signal(os.Interrupt); srv.Wait() })

	line := `curl -s -H Metadata:true --noproxy "*" "http://169.254.169.254/metadata/instance/compute/vmId?api-version=2017-08-01&format=text"`
	var out []byte
	var err error
	for range 50 { // the server needs a moment to bind; bounded
		out, err = exec.CommandContext(ctx, ip, "netns", "exec", ns, "bash", "-c", line).Output()
		if err == nil && len(out) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s inside %s: %v", line, ns, err)
	}
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).Match(out) {
		t.Fatalf("vmId from 169.254.169.254:80 = %q, want a UUID", out)
	}
}
