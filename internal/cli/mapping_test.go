package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/mapaudit"
)

const corp = "../mapaudit/testdata/corp"

func corpArgs(extra ...string) []string {
	return append([]string{"mapping", "audit", "--certs", corp + "/certs", "--ca-export", corp + "/issued.csv",
		"--ldif", corp + "/corp.ldf", "--dcs", corp + "/dcs.yaml", "--reg", "dc2=" + corp + "/dc2-kdc.reg", "--as-of", "2026-01-15"}, extra...)
}

func exitCode(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	return 1
}

func TestMappingAuditTableAndExitCodes(t *testing.T) {
	t.Setenv("PFX_PASSWORD", "tegata-demo")
	out, err := run(t, corpArgs("--pfx-password-env", "PFX_PASSWORD")...)
	if exitCode(err) != 1 {
		t.Fatalf("denied pairs with --fail-on denied: exit %d (%v)", exitCode(err), err)
	}
	for _, want := range []string{"dave", "SID mismatch", "41 (Error)", "broken.pem:1", "DUPLICATE altSecurityIdentities", "pairs: 11; certificates mapping to no account: 1", "dc2.contoso.com  6"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if _, err := run(t, corpArgs("--fail-on", "never")...); exitCode(err) != 0 {
		t.Errorf("--fail-on never: %v", err)
	}
	// Alice alone is strongly mapped: clean even for --fail-on weak.
	if out, err := run(t, "mapping", "audit", "--certs", corp+"/certs/alice.pem", "--ldif", corp+"/corp.ldf", "--fail-on", "weak", "--as-of", "2026-01-15"); exitCode(err) != 0 {
		t.Errorf("alice with --fail-on weak: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		corpArgs("--as-of", "15/01/2026"),
		corpArgs("--fail-on", "sometimes"),
		corpArgs("--output", "xml"),
		{"mapping", "audit", "--ldif", corp + "/ca.pem"},
		{"mapping", "audit", "--certs", corp + "/certs/broken.pem"},
		{"mapping", "audit", "--certs", corp + "/certs", "--dcs", corp + "/corp.ldf"},
		{"mapping", "audit", "--certs", corp + "/certs", "--reg", "dc1"},
		{"mapping", "fix", "--certs", corp + "/certs", "--apply"},
		{"mapping", "explain", corp + "/certs/bob.cer"},
	} {
		if _, err := run(t, args...); exitCode(err) != 2 {
			t.Errorf("%v: exit %d (%v), want 2", args, exitCode(err), err)
		}
	}
}

func TestMappingAuditJSONAndCSV(t *testing.T) {
	out, _ := run(t, corpArgs("-o", "json")...)
	var doc struct {
		Findings []json.RawMessage
		Problems []struct{ Origin, Error string }
		Summary  mapaudit.Summary
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// frank.pfx needs its password: one more problem, one pair fewer.
	if len(doc.Findings) != 11 || len(doc.Problems) != 2 || doc.Summary.Pairs != 10 {
		t.Errorf("%d findings, %d problems, summary %+v", len(doc.Findings), len(doc.Problems), doc.Summary)
	}
	out, _ = run(t, corpArgs("-o", "csv")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "certificate,subject,issuer") || !strings.Contains(out, "CONTOSO\\svc-ndes") {
		t.Errorf("csv:\n%s", out)
	}
}

func TestMappingAltSecIDExplainFix(t *testing.T) {
	out, err := run(t, "mapping", "altsecid", corp+"/certs/bob.cer", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var views []struct {
		Values []struct {
			Value, Type string
			Emit        bool
		}
	}
	if err := json.Unmarshal([]byte(out), &views); err != nil || len(views) != 1 {
		t.Fatalf("%v %s", err, out)
	}
	if v := views[0].Values[0]; v.Type != "X509IssuerSerialNumber" || !v.Emit || v.Value != "X509:<I>DC=com,DC=contoso,CN=CONTOSO-DC-CA<SR>F6030000F60300000100002B" {
		t.Errorf("first value %+v", v)
	}
	out, err = run(t, "mapping", "explain", corp+"/certs/bob.cer", "--account", "bob@contoso.com", "--ldif", corp+"/corp.ldf", "--dcs", corp+"/dcs.yaml", "--as-of", "2026-01-15")
	if err != nil || !strings.Contains(out, "deny with KDC_ERR_CERTIFICATE_MISMATCH") || !strings.Contains(out, "allow: weak mapping in Compatibility") {
		t.Errorf("explain: %v\n%s", err, out)
	}
	out, err = run(t, "mapping", "explain", corp+"/certs/bob.cer", "--sid", "S-1-5-21-3623811015-3361044348-30300820-1014",
		"--upn", "bob@contoso.com", "--created", "2024-01-15T09:30:12Z", "--as-of", "2025-01-01", "-o", "json")
	if err != nil || !strings.Contains(out, "\"outcome\": \"allowed-with-event\"") {
		t.Errorf("explain described account before February 2025: %v\n%s", err, out)
	}
	// The dry run prints the golden LDIF plus comments.
	t.Setenv("PFX_PASSWORD", "tegata-demo")
	out, err = run(t, "mapping", "fix", "--certs", corp+"/certs", "--pfx-password-env", "PFX_PASSWORD", "--ca-export", corp+"/issued.csv",
		"--ldif", corp+"/corp.ldf", "--dcs", corp+"/dcs.yaml", "--reg", "dc2="+corp+"/dc2-kdc.reg", "--as-of", "2026-01-15")
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.SplitAfter(out, "\n") {
		if !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "tegata:") {
			kept = append(kept, l)
		}
	}
	golden, _ := os.ReadFile(corp + "/fix.ldf.golden")
	if strings.Join(kept, "") != string(golden) {
		t.Errorf("fix output differs from fix.ldf.golden:\n%s", out)
	}
	if !strings.Contains(out, "# existing: X509:<I>CN=CONTOSO-DC-CA, DC=contoso, DC=com<SR>") {
		t.Errorf("the dry run must show frank's existing value:\n%s", out)
	}
}

// TestMappingAuditPeakRSS runs `tegata mapping audit` on a synthetic corpus
// in a child process and checks its peak RSS against the 500 MB target.
// TEGATA_MAPPING_BENCH=1 uses the full 100,000 pairs and reports the
// figures; the default 5,000 keeps the suite quick.
func TestMappingAuditPeakRSS(t *testing.T) {
	if args := os.Getenv("TEGATA_MAPPING_RSS_CHILD"); args != "" {
		root := newRoot()
		root.SetArgs(strings.Split(args, "\x1f"))
		root.SetOut(devNull(t))
		err := root.Execute()
		if code := exitCode(err); code > 1 {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(code)
		}
		return
	}
	n := 5_000
	if os.Getenv("TEGATA_MAPPING_BENCH") == "1" {
		n = 100_000
	}
	dir := t.TempDir()
	c, err := mapaudit.NewSyntheticCorpus(n)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	c = nil
	args := []string{"mapping", "audit", "--certs", filepath.Join(dir, "certs"), "--ldif", filepath.Join(dir, "directory.ldf"),
		"--as-of", "2026-01-15", "--fail-on", "never", "-o", "json"}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMappingAuditPeakRSS$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TEGATA_MAPPING_RSS_CHILD="+strings.Join(args, "\x1f"))
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	rssMB := float64(ru.Maxrss) / 1024
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	t.Logf("%d pairs from files: peak RSS %.0f MB, %s wall, %s CPU, %.0f pairs per CPU-second (whole command)",
		n, rssMB, elapsed.Round(time.Millisecond), cpu.Round(time.Millisecond), float64(n)/cpu.Seconds())
	if rssMB >= 500 {
		t.Errorf("peak RSS %.0f MB, target < 500 MB", rssMB)
	}
}

func devNull(t *testing.T) *os.File {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
