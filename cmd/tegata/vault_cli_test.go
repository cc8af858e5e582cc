package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVaultCLI drives the vault commands a newcomer types against `tegata up`: secrets,
// certificate import and download, role assignments and the audit log.
func TestVaultCLI(t *testing.T) {
	p := startUp(t)
	dir := t.TempDir()
	p.must(t, `tegata vault secret set greeting --value hello`)
	if out := p.must(t, `tegata vault secret get greeting`); out != "hello\n" {
		t.Errorf("secret get printed %q", out)
	}
	if out := p.must(t, `tegata vault secret list --output json`); !strings.Contains(out, `/secrets/greeting"`) {
		t.Errorf("secret list --output json: %s", out)
	}

	key, chain := testChain(t)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemFile := filepath.Join(dir, "www.pem")
	text := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, c := range chain {
		text = append(text, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	os.WriteFile(pemFile, text, 0o600)
	if out := p.must(t, `tegata vault cert import www --file `+pemFile); !strings.HasPrefix(out, "imported www version ") {
		t.Errorf("cert import printed %q", out)
	}
	out := filepath.Join(dir, "out.pem")
	p.must(t, `tegata vault cert download www --out `+out)
	pair, err := tls.LoadX509KeyPair(out, out)
	if err != nil {
		t.Fatalf("the downloaded PEM is not a key pair: %v", err)
	}
	if leaf, _ := x509.ParseCertificate(pair.Certificate[0]); !leaf.Equal(chain[0]) {
		t.Error("the downloaded certificate is not the imported one")
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("downloaded file mode %o, want 600", st.Mode().Perm())
	}
	pfx := filepath.Join(dir, "out.pfx")
	p.must(t, `tegata vault cert download www --format pfx --out `+pfx)
	if b, _ := os.ReadFile(pfx); len(b) < 100 || b[0] != 0x30 {
		t.Errorf("the PFX download is not DER (%d bytes)", len(b))
	}

	if _, err := p.sh(t, `tegata vault role assign --principal 0a0a0a0a-0000-0000-0000-000000000001 --role "Sekrets User"`); err == nil || !strings.Contains(err.Error(), "not a built-in Key Vault role") {
		t.Errorf("a misspelt role: %v", err)
	}
	p.must(t, `tegata vault role assign --principal 0a0a0a0a-0000-0000-0000-000000000001 --role "Secrets User" --scope /secrets/greeting`)
	var as []struct {
		Principal, Role, Scope string
		RoleID                 string `json:"role_id"`
	}
	if err := json.Unmarshal([]byte(p.must(t, `tegata vault role list --output json`)), &as); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range as {
		found = found || a.Principal == "0a0a0a0a-0000-0000-0000-000000000001" && a.RoleID == "4633458b-17de-408a-b874-0445c86b69e6" && a.Role == "Key Vault Secrets User" && a.Scope == "/secrets/greeting"
	}
	if !found || len(as) != 2 { // the dev grant and this one
		t.Errorf("role list: %+v", as)
	}
	var audit []struct {
		Action, Target, Principal string
		Status                    int
	}
	if err := json.Unmarshal([]byte(p.must(t, `tegata vault audit --output json`)), &audit); err != nil {
		t.Fatal(err)
	}
	read := false
	for _, e := range audit {
		read = read || e.Action == "Microsoft.KeyVault/vaults/secrets/getSecret/action" && strings.HasPrefix(e.Target, "/secrets/greeting/") && e.Status == 200 && e.Principal != ""
	}
	if !read {
		t.Errorf("the audit log lacks the secret read: %+v", audit)
	}
	if out := p.must(t, `tegata vault rewrap`); !strings.HasPrefix(out, "re-wrapped 0 values") {
		t.Errorf("rewrap with nothing to move printed %q", out)
	}
}
