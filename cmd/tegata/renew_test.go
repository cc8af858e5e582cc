package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/certkit"
	"github.com/tegata-project/tegata/internal/testenv"
)

// TestRenewalServiceInUp: `tegata up` with a renew section issues the configured
// certificate from Pebble (DNS-01 through pebble-challtestsrv) into its own vault, with
// the key generated in the vault; `tegata renew list` shows it; the secret behind it is
// a key pair for the configured names.
func TestRenewalServiceInUp(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	dir, conf := renewConfig(t, peb, `  tick: 1m
  certificates:
    - dns_names: [www.example.test, example.test]
      dns_provider: test-dns
`)
	p := startUpIn(t, filepath.Join(dir, "data"), []string{"LEGO_DISABLE_CNAME_SUPPORT=true"}, "--config", conf)

	var list []struct {
		Name      string
		Issued    int
		ExpiresOn time.Time
		LastError string
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := p.must(t, `tegata --config `+conf+` --data-dir `+p.data+` renew list --output json`)
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("renew list --output json: %v: %s", err, out)
		}
		if len(list) == 1 && (list[0].Issued > 0 || list[0].LastError != "") || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(list) != 1 || list[0].Name != "www-example-test" || list[0].Issued != 1 || list[0].LastError != "" || list[0].ExpiresOn.Before(time.Now()) {
		t.Fatalf("renew list: %+v", list)
	}
	// The REST API (acmebot's routes) on the vault's host, with a vault token.
	req, _ := http.NewRequest("GET", "https://"+p.vault+"/api/certificates", nil)
	req.Header.Set("Authorization", "Bearer "+imdsToken(t, p.meta))
	resp, err := vaultHTTPClient(t, p.data).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"www-example-test"`) || !strings.Contains(string(body), `"isIssuedByAcmebot":true`) {
		t.Errorf("GET /api/certificates: %d %s", resp.StatusCode, body)
	}
	// Adoption from the vault's listing: the one tagged certificate is tegata's own.
	var adopted []struct {
		Name    string `json:"name"`
		By      string `json:"taggedBy"`
		Adopted bool   `json:"adopted"`
		Reason  string `json:"reason"`
	}
	out := p.must(t, `tegata --config `+conf+` renew adopt --dry-run --admin `+p.admin+` --output json`)
	if err := json.Unmarshal([]byte(out), &adopted); err != nil {
		t.Fatalf("renew adopt --output json: %v: %s", err, out)
	}
	if len(adopted) != 1 || adopted[0].Name != "www-example-test" || adopted[0].By != "tegata" || adopted[0].Adopted || !strings.Contains(adopted[0].Reason, "already managed") {
		t.Errorf("renew adopt --dry-run: %+v", adopted)
	}
	secrets, _ := vaultClientsWithToken(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sec, err := secrets.GetSecret(ctx, "www-example-test", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	mat, err := certkit.ParseImport([]byte(*sec.Value), "", *sec.ContentType, false)
	if err != nil {
		t.Fatalf("the issued certificate's secret: %v", err)
	}
	if names := strings.Join(mat.Chain[0].DNSNames, ","); !strings.Contains(names, "www.example.test") || !strings.Contains(names, "example.test") {
		t.Errorf("issued for %s", names)
	}
}

// renewConfig writes a tegata.yaml in a new directory whose renewal service issues from
// peb by DNS-01 through challtestsrv (provider "test-dns"), followed by extra (more renew
// settings, indented by two spaces); it returns the directory and the file.
func renewConfig(t *testing.T, peb *testenv.Pebble, extra string) (dir, conf string) {
	t.Helper()
	dir = t.TempDir()
	ca := filepath.Join(dir, "pebble-tls.pem")
	if err := os.WriteFile(ca, peb.TLSRootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	conf = filepath.Join(dir, "tegata.yaml")
	yaml := fmt.Sprintf(`renew:
  enabled: true
  directory: %s
  ca_file: %s
  resolvers: [%q]
  propagation_timeout: 10s
  dns_providers:
    - {name: test-dns, type: challtestsrv, config: {url: %s}}
`, peb.DirectoryURL, ca, peb.DNSAddr, peb.ChallTestSrvURL) + extra
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, conf
}
