package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestVaultAuthFromFileAndEnv: renew.vault_auth is read from the file and from
// TEGATA_RENEW_VAULT_AUTH_* (the YAML path in upper case), and the default
// authority is Azure's public cloud.
func TestVaultAuthFromFileAndEnv(t *testing.T) {
	p := write(t, "renew:\n  vault_auth:\n    tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47\n    client_id: 11111111-2222-3333-4444-555555555555\n    client_secret_file: /etc/tegata/sp-secret\n")
	cfg, _, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	va := cfg.Renew.VaultAuth
	if va.TenantID != "72f988bf-86f1-41af-91ab-2d7cd011db47" || va.ClientID != "11111111-2222-3333-4444-555555555555" || va.ClientSecretFile != "/etc/tegata/sp-secret" || va.AuthorityHost != DefaultAuthorityHost {
		t.Fatalf("from the file: %+v", va)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg, _, err = Load(p, []string{
		"TEGATA_RENEW_VAULT_AUTH_CLIENT_SECRET_FILE=",
		"TEGATA_RENEW_VAULT_AUTH_CLIENT_CERTIFICATE_FILE=/etc/tegata/sp.pem",
		"TEGATA_RENEW_VAULT_AUTH_AUTHORITY_HOST=https://login.microsoftonline.us/",
	})
	if err != nil {
		t.Fatal(err)
	}
	va = cfg.Renew.VaultAuth
	if va.ClientSecretFile != "" || va.ClientCertificateFile != "/etc/tegata/sp.pem" || va.AuthorityHost != "https://login.microsoftonline.us/" {
		t.Fatalf("from the environment: %+v", va)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// No vault_auth: the managed identity, valid.
	def := Default()
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestVaultAuthValidation: each mistake names the field and says what to do.
func TestVaultAuthValidation(t *testing.T) {
	ok := VaultAuthConfig{TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", ClientID: "11111111-2222-3333-4444-555555555555", ClientSecretFile: "/s", AuthorityHost: DefaultAuthorityHost}
	for _, tc := range []struct {
		name string
		edit func(*VaultAuthConfig)
		want []string
	}{
		{"tenant without client", func(a *VaultAuthConfig) { a.ClientID = "" }, []string{"renew.vault_auth.client_id", "tenant_id is set", "application (client) ID", "managed identity"}},
		{"secret file without client", func(a *VaultAuthConfig) { a.ClientID, a.TenantID = "", "" }, []string{"renew.vault_auth.client_id", "client_secret_file is set"}},
		{"client without tenant", func(a *VaultAuthConfig) { a.TenantID = "" }, []string{"renew.vault_auth.tenant_id", "empty with client_id set", "directory (tenant) ID"}},
		{"bad tenant", func(a *VaultAuthConfig) { a.TenantID = "contoso/evil" }, []string{"renew.vault_auth.tenant_id", "contoso/evil"}},
		{"bad client", func(a *VaultAuthConfig) { a.ClientID = "my app" }, []string{"renew.vault_auth.client_id", "GUID"}},
		{"neither credential", func(a *VaultAuthConfig) { a.ClientSecretFile = "" }, []string{"client_secret_file and client_certificate_file", "both empty", "give the file"}},
		{"both credentials", func(a *VaultAuthConfig) { a.ClientCertificateFile = "/c.pem" }, []string{"client_secret_file and client_certificate_file", "both set", "give one"}},
		{"inline secret", func(a *VaultAuthConfig) { a.ClientSecret = "s3cr3t" }, []string{"renew.vault_auth.client_secret", "not read from the configuration", "client_secret_file"}},
		{"http authority", func(a *VaultAuthConfig) { a.AuthorityHost = "http://login.example" }, []string{"renew.vault_auth.authority_host", "https URL"}},
		{"authority with query", func(a *VaultAuthConfig) { a.AuthorityHost = "https://login.example/?x=1" }, []string{"renew.vault_auth.authority_host"}},
	} {
		cfg := Default()
		cfg.Renew.VaultAuth = ok
		tc.edit(&cfg.Renew.VaultAuth)
		err := cfg.Validate()
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tc.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: the error shows the secret: %v", tc.name, err)
		}
	}
}

// TestVaultAuthInlineSecretRefused: a secret written in the YAML or the
// environment is refused with the way to give it, and never printed.
func TestVaultAuthInlineSecretRefused(t *testing.T) {
	p := write(t, "renew:\n  vault_auth:\n    tenant_id: t1\n    client_id: c1\n    client_secret: s3cr3t\n")
	cfg, _, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "client_secret_file") {
		t.Fatalf("inline secret: %v", err)
	}
	b, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "s3cr3t") {
		t.Errorf("config print shows the secret:\n%s", b)
	}
	cfg = Default()
	if err := ApplyEnv(&cfg, []string{"TEGATA_RENEW_VAULT_AUTH_CLIENT_SECRET=s3cr3t", "TEGATA_RENEW_VAULT_AUTH_CLIENT_ID=c1", "TEGATA_RENEW_VAULT_AUTH_TENANT_ID=t1"}); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "client_secret_file") {
		t.Fatalf("secret in the environment: %v", err)
	}
}

// TestVaultAuthPrintShowsPathsOnly: config print shows the credential files'
// paths, never what they hold, and its output loads again.
func TestVaultAuthPrintShowsPathsOnly(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "sp-secret")
	if err := os.WriteFile(secretFile, []byte("the-client-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Default()
	cfg.Renew.VaultAuth = VaultAuthConfig{TenantID: "t1", ClientID: "c1", ClientSecretFile: secretFile, AuthorityHost: DefaultAuthorityHost}
	b, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	if strings.Contains(out, "the-client-secret") || !strings.Contains(out, "client_secret_file: "+secretFile) || strings.Contains(out, "client_secret:") {
		t.Errorf("config print:\n%s", out)
	}
	got, _, err := Load(write(t, out), nil)
	if err != nil {
		t.Fatalf("config print output does not load: %v", err)
	}
	if got.Renew.VaultAuth != cfg.Renew.VaultAuth {
		t.Errorf("round trip: %+v", got.Renew.VaultAuth)
	}
}

// TestVaultAuthFiles: the secret is read trimmed; a missing, empty, multi-line
// or group/other-readable file is refused with what to do.
func TestVaultAuthFiles(t *testing.T) {
	dir := t.TempDir()
	file := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	a := VaultAuthConfig{ClientSecretFile: file("good", "  s3cr3t~value\n", 0o600)}
	if s, err := a.ReadClientSecret(); err != nil || s != "s3cr3t~value" {
		t.Fatalf("good secret file: %q %v", s, err)
	}
	cases := []struct {
		path string
		want []string
	}{
		{filepath.Join(dir, "missing"), []string{"renew.vault_auth.client_secret_file", "no such file", "can read"}},
		{file("empty", "\n", 0o600), []string{"renew.vault_auth.client_secret_file", "is empty"}},
		{file("lines", "a\nb\n", 0o600), []string{"more than one line"}},
		{dir, []string{"not a regular file"}},
	}
	if runtime.GOOS != "windows" {
		cases = append(cases, struct {
			path string
			want []string
		}{file("open", "s3cr3t\n", 0o644), []string{"renew.vault_auth.client_secret_file", "mode 0644", "chmod 600"}})
	}
	for _, tc := range cases {
		a := VaultAuthConfig{ClientSecretFile: tc.path}
		_, err := a.ReadClientSecret()
		if err == nil {
			t.Errorf("%s: accepted", tc.path)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", tc.path, err, w)
			}
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
	if runtime.GOOS != "windows" {
		a := VaultAuthConfig{ClientCertificateFile: file("cert.pem", "-----BEGIN CERTIFICATE-----\n", 0o640)}
		if _, err := a.ReadClientCertificate(); err == nil || !strings.Contains(err.Error(), "renew.vault_auth.client_certificate_file") || !strings.Contains(err.Error(), "private key") {
			t.Errorf("group-readable certificate file: %v", err)
		}
	}
}
