//go:build unix

package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// steadyEnv is an env whose vault holds n certificates, and settings that
// observe them all.
func steadyEnv(t testing.TB, n int) (*env, string) {
	e := newEnv(t)
	names := make([]string, n)
	m := e.pki.material(t, 0)
	value := pfxValue(t, m)
	for i := range names {
		names[i] = fmt.Sprintf("site%03d", i)
		e.vault.add(names[i], "application/x-pkcs12", value)
	}
	return e, e.settings(names, "", "")
}

// BenchmarkSteadyState100 measures one poll of 100 certificates when
// nothing changed: 100 secret reads (cached token), version comparison and
// a status write. At pollingIntervalInS 60 that is one op per minute. The
// vault runs in the same process, so ns/op includes its side too.
func BenchmarkSteadyState100(b *testing.B) {
	_, settings := steadyEnv(b, 100)
	s, err := ParseSettings([]byte(settings), ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	p, err := NewPlan(s, "linux")
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(Options{Plan: p})
	if err != nil {
		b.Fatal(err)
	}
	if r := a.SyncOnce(context.Background()); !r.OK() {
		b.Fatal(r.Err())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := a.SyncOnce(context.Background()); !r.OK() {
			b.Fatal(r.Err())
		}
	}
	b.StopTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
}

// costReport is what TestSteadyStateCostChild measures in its own process.
type costReport struct {
	Certificates   int     `json:"certificates"`
	Passes         int     `json:"passes"`
	CPUPerPassMS   float64 `json:"cpuPerPassMs"`
	MaxRSSMiB      float64 `json:"maxRssMiB"`
	HeapInuseMiB   float64 `json:"heapInuseMiB"`
	FirstInstallMS float64 `json:"firstInstallMs"`
}

// TestSteadyStateCost measures the agent alone, in a child process, against
// a vault in this one: CPU per poll of 100 certificates and the peak RSS.
// It runs only with TEGATA_AGENT_COST=1 (go test -run SteadyStateCost -v).
func TestSteadyStateCost(t *testing.T) {
	if os.Getenv("TEGATA_AGENT_COST") != "1" {
		t.Skip("a measurement, not a test: set TEGATA_AGENT_COST=1")
	}
	e, settings := steadyEnv(t, 100)
	f := filepath.Join(t.TempDir(), "settings.json")
	if err := os.WriteFile(f, []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSteadyStateCostChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TEGATA_AGENT_COST_CHILD="+f)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var r costReport
	for _, line := range splitLines(string(out)) {
		if json.Unmarshal([]byte(line), &r) == nil && r.Passes > 0 {
			break
		}
	}
	if r.Passes == 0 {
		t.Fatalf("no report in:\n%s", out)
	}
	req, _ := e.vault.counts()
	t.Logf("100 certificates: first install %.0f ms; steady state %.1f ms CPU per poll (%.2f %% of a core at a 60 s interval); peak RSS %.1f MiB, heap in use %.1f MiB; vault requests %d",
		r.FirstInstallMS, r.CPUPerPassMS, r.CPUPerPassMS/600, r.MaxRSSMiB, r.HeapInuseMiB, req)
}

// TestSteadyStateCostChild is the child of TestSteadyStateCost.
func TestSteadyStateCostChild(t *testing.T) {
	f := os.Getenv("TEGATA_AGENT_COST_CHILD")
	if f == "" {
		t.Skip("run by TestSteadyStateCost")
	}
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	p := mustPlan(t, mustParse(t, data, ParseOptions{}), "linux")
	a, err := New(Options{Plan: p})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if r := a.SyncOnce(context.Background()); !r.OK() {
		t.Fatal(r.Err())
	}
	first := time.Since(start)
	const passes = 30
	before := cpuTime()
	for i := 0; i < passes; i++ {
		if r := a.SyncOnce(context.Background()); !r.OK() {
			t.Fatal(r.Err())
		}
	}
	cpu := cpuTime() - before
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, _ := json.Marshal(costReport{Certificates: len(p.Targets), Passes: passes, CPUPerPassMS: float64(cpu.Microseconds()) / 1000 / passes,
		MaxRSSMiB: float64(ru.Maxrss) / 1024, HeapInuseMiB: float64(ms.HeapInuse) / (1 << 20), FirstInstallMS: float64(first.Milliseconds())})
	fmt.Println(string(b))
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}
