package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAgentCheck runs `tegata agent check` on the article's settings (Windows
// layout: refused on Linux with a hint, accepted with --platform windows) and on a
// Linux v3 file, whose plan it prints as JSON without touching the disk.
func TestAgentCheck(t *testing.T) {
	run := func(args ...string) (string, error) {
		cmd := newRoot()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		err := cmd.Execute()
		return out.String(), err
	}
	article := filepath.Join("..", "agent", "testdata", "article-settings.json")
	if _, err := run("agent", "check", "--settings", article); err == nil || !strings.Contains(err.Error(), "--platform windows") {
		t.Errorf("the article's Windows settings on Linux: %v, want a refusal that points to --platform windows", err)
	}
	if out, err := run("agent", "check", "--settings", article, "--platform", "windows"); err != nil {
		t.Errorf("the article's settings with --platform windows: %v\n%s", err, out)
	}
	store := filepath.Join(t.TempDir(), "store")
	settings := filepath.Join(t.TempDir(), "settings.json")
	os.WriteFile(settings, []byte(`{"secretsManagementSettings":{"pollingIntervalInS":"3600","observedCertificates":[
		{"url":"https://kv1.vault.azure.net/secrets/web","certificateStoreLocation":"`+store+`"}]},
		"authenticationSettings":{"msiEndpoint":"http://169.254.169.254/metadata/identity"}}`), 0o600)
	out, err := run("agent", "check", "--settings", settings, "--output", "json")
	if err != nil {
		t.Fatalf("agent check: %v\n%s", err, out)
	}
	var plan any
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("agent check --output json is not JSON: %v\n%s", err, out)
	}
	if !strings.Contains(out, "kv1.web") || !strings.Contains(out, store) {
		t.Errorf("the plan does not name the link kv1.web in %s:\n%s", store, out)
	}
	if _, err := os.Stat(store); err == nil {
		t.Error("agent check created the store directory; it must touch nothing")
	}
}
