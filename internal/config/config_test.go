package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tegata.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedence(t *testing.T) {
	p := write(t, "imds:\n  listen: 127.0.0.1:9001\n  admin_listen: 127.0.0.1:9002\n  rate_limit:\n    enabled: true\n")
	cfg, used, err := Load(p, []string{"TEGATA_IMDS_LISTEN=127.0.0.1:9100", "TEGATA_IMDS_WATCH_INTERVAL=5s", "TEGATA_IMDS_COMPAT_API_VERSIONS=2021-02-01, 2025-04-07", "HOME=/x"})
	if err != nil {
		t.Fatal(err)
	}
	if used != p {
		t.Errorf("used %q, want %q", used, p)
	}
	if cfg.IMDS.Listen != "127.0.0.1:9100" {
		t.Errorf("env must override the file: listen = %s", cfg.IMDS.Listen)
	}
	if cfg.IMDS.AdminListen != "127.0.0.1:9002" || !cfg.IMDS.RateLimit.Enabled {
		t.Errorf("file values lost: %+v", cfg.IMDS)
	}
	if cfg.IMDS.WatchInterval != 5*time.Second {
		t.Errorf("watch interval %s", cfg.IMDS.WatchInterval)
	}
	if got := strings.Join(cfg.IMDS.Compat.APIVersions, ","); got != "2021-02-01,2025-04-07" {
		t.Errorf("list from env: %s", got)
	}
	if cfg.IMDS.Compat.ServerHeader != "IMDS/150.870.65.1854" {
		t.Errorf("defaults lost: server header %q", cfg.IMDS.Compat.ServerHeader)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestFileErrorsNameTheLine(t *testing.T) {
	p := write(t, "imds:\n  listen: 127.0.0.1:9001\n  lisen: x\n")
	_, _, err := Load(p, nil)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "lisen") {
		t.Fatalf("unknown key: %v", err)
	}
	if _, _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestEnvErrors(t *testing.T) {
	for _, kv := range []string{"TEGATA_IMDS_LISTN=x", "TEGATA_IMDS_RATE_LIMIT_ENABLED=maybe", "TEGATA_IMDS_WATCH_INTERVAL=2", "TEGATA_IMDS_RATE_LIMIT_PER_SECOND=fast"} {
		cfg := Default()
		if err := ApplyEnv(&cfg, []string{kv}); err == nil || !strings.Contains(err.Error(), strings.SplitN(kv, "=", 2)[0]) {
			t.Errorf("%s: %v", kv, err)
		}
	}
	cfg := Default()
	if err := ApplyEnv(&cfg, []string{"TEGATA_REQUIRE_INTEGRATION=1", "TEGATA_CONFIG=x"}); err != nil {
		t.Errorf("non-settings must be skipped: %v", err)
	}
}

func TestValidate(t *testing.T) {
	cfg := Default()
	cfg.Log.Level = "loud"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "log.level") {
		t.Fatalf("bad level: %v", err)
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	cfg := Default()
	cfg.IMDS.WatchInterval = 3 * time.Second
	b, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := Load(write(t, string(b)), nil)
	if err != nil {
		t.Fatalf("config print output does not load: %v\n%s", err, b)
	}
	if got.IMDS.WatchInterval != 3*time.Second || got.IMDS.Listen != cfg.IMDS.Listen || len(got.IMDS.Compat.APIVersions) != len(cfg.IMDS.Compat.APIVersions) {
		t.Fatalf("round trip changed the configuration:\n%s", b)
	}
}

// TestPrintRedactsSecrets: config print never shows the EAB key, DNS provider
// credentials or webhook URLs.
func TestPrintRedactsSecrets(t *testing.T) {
	c := Default()
	c.Renew.EABHMACKey = "eab-secret-value"
	c.Renew.DNSProviders = []DNSProviderConfig{{Name: "cf", Type: "cloudflare", Config: map[string]string{"apiToken": "cf-secret-token"}}}
	c.Renew.Webhooks = []WebhookConfig{{URL: "https://hooks.slack.com/services/T000/B000/slack-secret"}}
	b, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"eab-secret-value", "cf-secret-token", "slack-secret"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("config print shows %q", secret)
		}
	}
	if !strings.Contains(string(b), "apiToken: (set)") {
		t.Errorf("the provider's keys are not listed as set:\n%s", b)
	}
	if c.Renew.DNSProviders[0].Config["apiToken"] != "cf-secret-token" {
		t.Error("redacting changed the configuration itself")
	}
}
