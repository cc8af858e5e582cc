package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/miekg/dns"

	"github.com/tegata-project/tegata/internal/certkit"
	"github.com/tegata-project/tegata/internal/testenv"
)

// TestRenewalSurvivesKillMidOrder (issue 5, "process killed mid-order"): `tegata up`
// is killed with SIGKILL while a renewal sits in the middle of its ACME order (the vault
// holds the pending operation and its CSR, the order is created, its DNS-01 record is
// published, and the propagation check keeps meeting SERVFAIL). After a restart on the
// same data directory the current certificate is untouched, in the vault and in `renew
// list`; once DNS answers again, `tegata renew now` succeeds, with the key of the
// leftover pending operation (its CSR is reused), and no operation is left pending.
func TestRenewalSurvivesKillMidOrder(t *testing.T) {
	const (
		name      = "www-example-test"
		challenge = "_acme-challenge.www.example.test"
	)
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	dir, conf := renewConfig(t, peb, `  tick: 1m
  certificates:
    - dns_names: [www.example.test]
      dns_provider: test-dns
`)
	// A propagation wait far longer than the test: an attempt that meets SERVFAIL sits
	// mid-order until it is killed, rather than failing on its own.
	yaml, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Replace(string(yaml), "propagation_timeout: 10s", "propagation_timeout: 5m", 1)
	if long == string(yaml) {
		t.Fatalf("renewConfig no longer writes propagation_timeout: 10s:\n%s", yaml)
	}
	if err := os.WriteFile(conf, []byte(long), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	env := []string{"LEGO_DISABLE_CNAME_SUPPORT=true"}

	// 1. The first certificate is issued.
	p := startUpIn(t, data, env, "--config", conf)
	before := waitRenewStatus(t, p, conf, name, 60*time.Second, func(s renewStatusJSON) bool { return s.Issued > 0 || s.LastError != "" })
	if before.Issued != 1 || before.LastError != "" || before.Serial == "" || before.Version == "" {
		t.Fatalf("first issue: %+v", before)
	}
	waitRenewAdmin(t, p)
	oldVersion, oldLeaf := vaultCurrentCert(t, p, name)
	if oldVersion != before.Version || oldLeaf.SerialNumber.Text(16) != before.Serial {
		t.Fatalf("vault's current version %s (serial %x), renew list says %s (serial %s)", oldVersion, oldLeaf.SerialNumber, before.Version, before.Serial)
	}
	oldKey := vaultSecretKeyPair(t, p, name, oldLeaf)

	// 2. The next order hangs in the propagation check; kill -9 while it does.
	peb.SetServfail(t, challenge)
	txtBefore := challtestTXTQueries(t, peb, challenge)
	nowCtx, nowCancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer nowCancel()
	renewNow := exec.CommandContext(nowCtx, p.bin, "--config", conf, "renew", "now", name, "--admin", p.admin)
	var nowOut bytes.Buffer
	renewNow.Stdout, renewNow.Stderr = &nowOut, &nowOut
	if err := renewNow.Start(); err != nil {
		t.Fatal(err)
	}
	nowDone := make(chan error, 1)
	go func() { nowDone <- renewNow.Wait() }()
	var leftoverCSR []byte
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		select {
		case err := <-nowDone:
			t.Fatalf("renew now ended before the kill (it should hang in the propagation check): %v\n%s", err, nowOut.String())
		default:
		}
		if leftoverCSR == nil {
			if status, csr := vaultPendingOperation(t, p, name); status == "inProgress" {
				leftoverCSR = csr
			}
		}
		// The propagation check asks for the TXT record after the order was created
		// and the record published: the attempt is mid-order.
		if leftoverCSR != nil && challtestTXTQueries(t, peb, challenge) > txtBefore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renewal did not reach the propagation check within 30s: pending CSR %v, TXT queries %d (were %d)", leftoverCSR != nil, challtestTXTQueries(t, peb, challenge), txtBefore)
		}
	}
	csr, err := x509.ParseCertificateRequest(leftoverCSR)
	if err != nil {
		t.Fatalf("the pending operation's CSR: %v", err)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	select {
	case err := <-nowDone:
		if err == nil {
			t.Errorf("renew now succeeded although tegata up was killed mid-order: %s", nowOut.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("renew now still waits 15s after tegata up was killed")
	}

	// 3. Restarted on the same data directory: the current certificate stays.
	p2 := startUpIn(t, data, env, "--config", conf)
	waitRenewAdmin(t, p2)
	if v, leaf := vaultCurrentCert(t, p2, name); v != oldVersion || !leaf.Equal(oldLeaf) {
		t.Errorf("after the kill and restart the vault's current version is %s (serial %x), want %s (serial %s)", v, leaf.SerialNumber, oldVersion, before.Serial)
	}
	if k := vaultSecretKeyPair(t, p2, name, oldLeaf); !k.(interface{ Equal(crypto.PublicKey) bool }).Equal(oldKey) {
		t.Error("after the restart the secret holds another key than the current certificate's")
	}
	after := renewStatusOf(t, p2, conf, name)
	if after.Serial != before.Serial || after.Version != before.Version || after.Issued != 1 {
		t.Errorf("renew list after the restart: %+v, want serial %s, version %s, issued 1", after, before.Serial, before.Version)
	}
	if status, pcsr := vaultPendingOperation(t, p2, name); status != "inProgress" || !bytes.Equal(pcsr, leftoverCSR) {
		t.Logf("the killed attempt's pending operation after the restart: status %q (CSR the same: %v)", status, bytes.Equal(pcsr, leftoverCSR))
	}

	// 4. The fault is gone: the next attempt succeeds, with the leftover CSR's key.
	peb.ClearServfail(t, challenge)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, p2.bin, "--config", conf, "renew", "now", name, "--admin", p2.admin, "--output", "json").CombinedOutput()
	if err != nil {
		hint := ""
		if strings.Contains(string(out), "another replica is working on this certificate") {
			// The lease the killed process took (internal/renew/lease.go) outlives it:
			// the restarted service has a new owner id and waits out its 20 minutes.
			hint = "\n(the killed process's lease on the certificate still holds it after the restart)"
		}
		t.Fatalf("renew now after the restart, DNS answering again: %v\n%s%s", err, out, hint)
	}
	var renewed renewStatusJSON
	if err := json.Unmarshal(out, &renewed); err != nil {
		t.Fatalf("renew now --output json: %v: %s", err, out)
	}
	newVersion, newLeaf := vaultCurrentCert(t, p2, name)
	if newVersion == oldVersion || renewed.Version != newVersion || renewed.Serial != newLeaf.SerialNumber.Text(16) || renewed.Issued != 2 || renewed.LastError != "" {
		t.Errorf("after renew now: status %+v; vault's current version %s (serial %x), the old one %s", renewed, newVersion, newLeaf.SerialNumber, oldVersion)
	}
	if !newLeaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(csr.PublicKey) {
		t.Error("the renewed certificate's key is not the one of the killed attempt's pending operation (its CSR was not reused)")
	}
	newKey := vaultSecretKeyPair(t, p2, name, newLeaf)
	if newKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(oldKey) {
		t.Error("the renewed certificate kept the old key (reuse_key is off)")
	}
	if status, _ := vaultPendingOperation(t, p2, name); status == "inProgress" {
		t.Error("an operation is still pending after the successful renewal")
	}
	if _, err := vaultCertificates(t, p2).GetCertificate(ctx, name, oldVersion, nil); err != nil {
		t.Errorf("the old version %s after the renewal: %v", oldVersion, err)
	}
	if l := renewStatusOf(t, p2, conf, name); l.Issued != 2 || l.Serial != renewed.Serial || l.LastError != "" {
		t.Errorf("renew list after the renewal: %+v", l)
	}
}

// renewStatusJSON is one entry of `tegata renew list --output json`.
type renewStatusJSON struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	Serial    string    `json:"serial"`
	NotAfter  time.Time `json:"expiresOn"`
	Issued    int       `json:"issued"`
	LastError string    `json:"lastError"`
}

// renewStatusOf runs `tegata renew list --output json` on p's data directory and
// returns name's entry.
func renewStatusOf(t *testing.T, p *upProcess, conf, name string) renewStatusJSON {
	t.Helper()
	out := p.must(t, `tegata --config `+conf+` --data-dir `+p.data+` renew list --output json`)
	var list []renewStatusJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("renew list --output json: %v: %s", err, out)
	}
	for _, s := range list {
		if s.Name == name {
			return s
		}
	}
	return renewStatusJSON{}
}

// waitRenewStatus polls renew list until done holds for name's entry, or the time is up.
func waitRenewStatus(t *testing.T, p *upProcess, conf, name string, within time.Duration, done func(renewStatusJSON) bool) renewStatusJSON {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := renewStatusOf(t, p, conf, name)
		if done(s) || time.Now().After(deadline) {
			return s
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitRenewAdmin waits until the renewal service of p answers on the admin listener
// (it is registered once the service has started).
func waitRenewAdmin(t *testing.T, p *upProcess) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := client.Get("http://" + p.admin + "/admin/renew")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renewal service of tegata up did not answer on %s/admin/renew within 30s: %v", p.admin, err)
		}
	}
}

func vaultCertificates(t *testing.T, p *upProcess) *azcertificates.Client {
	t.Helper()
	_, c := vaultClientsWithToken(t, p)
	return c
}

// vaultCurrentCert returns the version and the leaf of name's latest version in p's vault.
func vaultCurrentCert(t *testing.T, p *upProcess, name string) (string, *x509.Certificate) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := vaultCertificates(t, p).GetCertificate(ctx, name, "", nil)
	if err != nil {
		t.Fatalf("GET /certificates/%s: %v", name, err)
	}
	leaf, err := x509.ParseCertificate(resp.CER)
	if err != nil {
		t.Fatal(err)
	}
	return resp.ID.Version(), leaf
}

// vaultSecretKeyPair reads name's latest secret (the key pair) from p's vault, checks
// that its leaf is leaf and its key leaf's, and returns the public key.
func vaultSecretKeyPair(t *testing.T, p *upProcess, name string, leaf *x509.Certificate) crypto.PublicKey {
	t.Helper()
	secrets, _ := vaultClientsWithToken(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sec, err := secrets.GetSecret(ctx, name, "", nil)
	if err != nil {
		t.Fatalf("GET /secrets/%s: %v", name, err)
	}
	ct := ""
	if sec.ContentType != nil {
		ct = *sec.ContentType
	}
	mat, err := certkit.ParseImport([]byte(*sec.Value), "", ct, false)
	if err != nil {
		t.Fatalf("the secret of %s: %v", name, err)
	}
	if mat.Key == nil || mat.Leaf() == nil {
		t.Fatalf("the secret of %s holds no key pair", name)
	}
	if !mat.Leaf().Equal(leaf) {
		t.Errorf("the secret of %s holds serial %x, the certificate's current version serial %x", name, mat.Leaf().SerialNumber, leaf.SerialNumber)
	}
	pub := mat.Key.Public()
	if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey) {
		t.Errorf("the secret of %s holds a key that is not its certificate's", name)
	}
	return pub
}

// vaultPendingOperation returns the status and CSR of name's certificate operation
// (GET /certificates/{name}/pending); "" when there is none.
func vaultPendingOperation(t *testing.T, p *upProcess, name string) (string, []byte) {
	t.Helper()
	_, certs := vaultClientsWithToken(t, p)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	op, err := certs.GetCertificateOperation(ctx, name, nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
		return "", nil
	}
	if err != nil {
		t.Fatalf("GET /certificates/%s/pending: %v", name, err)
	}
	status := ""
	if op.Status != nil {
		status = *op.Status
	}
	return status, op.CSR
}

// challtestTXTQueries counts the TXT queries for host that pebble-challtestsrv's DNS
// server has received.
func challtestTXTQueries(t *testing.T, peb *testenv.Pebble, host string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"host": host})
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post(peb.ChallTestSrvURL+"/dns-request-history", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var events []struct {
		Question struct {
			Name  string
			Qtype uint16
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&events); err != nil {
		t.Fatalf("challtestsrv /dns-request-history: %s: %v", resp.Status, err)
	}
	n := 0
	for _, e := range events {
		if e.Question.Qtype == dns.TypeTXT {
			n++
		}
	}
	return n
}
