package agent

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/certkit"
	"github.com/tegata-project/tegata/internal/testenv"
)

// tegataUp is a running `tegata up`: its metadata service, its vault and
// the data directory holding tls-ca.pem.
type tegataUp struct {
	bin, meta, vault, dataDir string
}

var (
	metaLine  = regexp.MustCompile(`Metadata service \(Azure IMDS\)\s+http://([^/\s]+)/metadata`)
	vaultLine = regexp.MustCompile(`Key Vault-compatible vault\s+https://([^/\s]+)/`)
)

// startTegataUp starts the real tegata binary on free loopback ports.
func startTegataUp(t *testing.T) *tegataUp {
	t.Helper()
	bin := testenv.Tegata(t)
	u := &tegataUp{bin: bin, dataDir: t.TempDir()}
	cmd := exec.Command(bin, "up", "--imds-listen", "127.0.0.1:0", "--imds-admin-listen", "127.0.0.1:0",
		"--vault-listen", "127.0.0.1:0", "--data-dir", u.dataDir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := metaLine.FindStringSubmatch(sc.Text()); m != nil {
				u.meta = m[1]
			}
			if m := vaultLine.FindStringSubmatch(sc.Text()); m != nil {
				u.vault = m[1]
				close(found)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	select {
	case <-found:
	case <-time.After(90 * time.Second):
		t.Fatalf("tegata up printed no vault endpoint within 90 s; stderr:\n%s", stderr.String())
	}
	if u.meta == "" {
		t.Fatal("tegata up printed no metadata endpoint")
	}
	return u
}

// importCert imports m as a new version of name with `tegata vault cert
// import` and returns the version.
func (u *tegataUp) importCert(t *testing.T, name string, m certkit.Material) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name+".pem")
	if err := os.WriteFile(f, certkit.EncodePEM(m), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(u.bin, "vault", "cert", "import", name, "--file", f, "--vault", "https://"+u.vault,
		"--imds", "http://"+u.meta, "--ca-file", filepath.Join(u.dataDir, "tls-ca.pem"), "--output", "text").CombinedOutput()
	if err != nil {
		t.Fatalf("tegata vault cert import: %v\n%s", err, out)
	}
	v := regexp.MustCompile(`version ([0-9a-f]{32})`).FindStringSubmatch(string(out))
	if v == nil {
		t.Fatalf("no version in %q", out)
	}
	return v[1]
}

// TestAgentAgainstTegataUp installs from tegata's real vault, with tokens
// from tegata's real metadata service: a PEM import is installed, then a
// renewal moves the link.
func TestAgentAgainstTegataUp(t *testing.T) {
	u := startTegataUp(t)
	pki := newTestPKI(t)
	v1 := u.importCert(t, "www", pki.material(t, 0))
	store := filepath.Join(t.TempDir(), "store")
	settings := fmt.Sprintf(`{"secretsManagementSettings":{"pollingIntervalInS":"60","certificateStoreLocation":%q,"requireInitialSync":true,
		"observedCertificates":["https://%s/secrets/www"]},
		"authenticationSettings":{"msiEndpoint":"http://%s/metadata/identity"},
		"tegata":{"caFile":%q,"statusFile":%q,"formats":["fullchain.pem","key.pem"]}}`,
		store, u.vault, u.meta, filepath.Join(u.dataDir, "tls-ca.pem"), filepath.Join(store+"-status", "status.json"))
	s := mustParse(t, []byte(settings), ParseOptions{})
	a, err := New(Options{Plan: mustPlan(t, s, "linux")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := a.SyncOnce(ctx)
	if !r.OK() || r.Certificates[0].Version != v1 {
		t.Fatalf("first sync: %+v %v", r.Certificates, r.Err())
	}
	link := filepath.Join(store, "127-0-0-1.www")
	types, certs := pemBlocks(t, link)
	if strings.Join(types, ",") != "CERTIFICATE,CERTIFICATE,CERTIFICATE,PRIVATE KEY" || !certs[1].Equal(pki.inter) {
		t.Errorf("installed blocks %v", types)
	}
	m2 := pki.material(t, time.Minute)
	v2 := u.importCert(t, "www", m2)
	r = a.SyncOnce(ctx)
	if !r.OK() || r.Certificates[0].Version != v2 || !r.Certificates[0].Changed {
		t.Fatalf("renewal: %+v %v", r.Certificates, r.Err())
	}
	if _, certs := pemBlocks(t, link); !certs[0].Equal(m2.Chain[0]) {
		t.Error("the link does not show the renewed certificate")
	}
	if _, certs := pemBlocks(t, filepath.Join(store, "127-0-0-1.www.d", "current", "fullchain.pem")); !certs[0].Equal(m2.Chain[0]) {
		t.Error("fullchain.pem is not the renewed certificate")
	}
	if st := a.Status(); st.State != StateSuccess || st.Certificates[0].InstalledVersion != v2 {
		t.Errorf("status %+v", st)
	}
}
