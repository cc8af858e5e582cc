package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestConfigPrintPrecedence(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("TEGATA_IMDS_LISTEN", "127.0.0.1:9100")
	t.Setenv("TEGATA_LOG_LEVEL", "debug")
	out, err := run(t, "config", "print", "--output", "json", "--log-level", "warn")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Log  struct{ Level string }
		IMDS struct{ Listen string } `json:"imds"`
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if cfg.IMDS.Listen != "127.0.0.1:9100" {
		t.Errorf("env ignored: listen %q", cfg.IMDS.Listen)
	}
	if cfg.Log.Level != "warn" {
		t.Errorf("flag must beat env: level %q", cfg.Log.Level)
	}
}

func TestConfigErrorsExit2(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("TEGATA_IMDS_EVENTS_TIMING", "slow")
	_, err := run(t, "config", "print")
	ee, ok := err.(*exitError)
	if !ok || ee.code != 2 || !strings.Contains(err.Error(), "imds.events.timing") {
		t.Fatalf("err = %v, want exit 2 naming imds.events.timing", err)
	}
}

func TestVersionJSON(t *testing.T) {
	out, err := run(t, "version", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(out), &v); err != nil || v["version"] == "" {
		t.Fatalf("version --output json: %v %q", err, out)
	}
}

func TestAdminUnreachableSaysWhatToDo(t *testing.T) {
	_, err := run(t, "imds", "faults", "list", "--admin", "127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "is the service running") {
		t.Fatalf("err = %v", err)
	}
}

func TestAttestVerify(t *testing.T) {
	doc := "../../attest/testdata/azure-attested/rsa-2024.json"
	bundle := "../../attest/testdata/azure-ca"
	out, err := run(t, "attest", "verify", doc, "--offline", "--bundle", bundle, "--at", "2024-04-22T18:00:00Z", "--output", "json")
	if err != nil {
		t.Fatalf("real 2024 document with the bundle: %v\n%s", err, out)
	}
	var res struct {
		Verified bool
		Document struct {
			VMID string `json:"vmId"`
		}
		Chain []struct{ Subject string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.Verified || res.Document.VMID != "960a4b4a-dab2-44ef-9b73-7753043b4f16" || len(res.Chain) != 3 {
		t.Fatalf("output %v: %s", err, out)
	}
	// Offline without the intermediate: not verified, and the error says what to do.
	_, err = run(t, "attest", "verify", doc, "--offline", "--at", "2024-04-22T18:00:00Z")
	if err == nil || !strings.Contains(err.Error(), "refresh the intermediates bundle") {
		t.Fatalf("without the intermediate: %v", err)
	}
	// Now is long after the document expired.
	if _, err := run(t, "attest", "verify", doc, "--offline", "--bundle", bundle); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired document: %v", err)
	}
	var ee *exitError
	if _, err := run(t, "attest", "verify"); !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("no input: %v, want exit 2", err)
	}
}
