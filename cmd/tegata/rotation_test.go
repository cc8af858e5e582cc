package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/testenv"
)

// TestUnplannedRotation is the 2026 story on a running tegata: a verifier with a bundle
// of intermediates works, `tegata pki rotate` switches signing to a new Sub CA, the
// verifier with the old bundle (a pinned intermediate) fails offline and says what to
// do, and the same verifier with a refreshed bundle works again.
func TestUnplannedRotation(t *testing.T) {
	testenv.Program(t, "curl", "curl")
	p := startUp(t)
	dir := t.TempDir()

	// The root is the trust anchor; the Sub CAs go into a bundle directory.
	snapshot := func(name string) string {
		t.Helper()
		resp, err := http.Get("http://" + p.admin + "/pki/bundle.pem")
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bundle := filepath.Join(dir, name)
		os.MkdirAll(bundle, 0o700)
		var roots, subs []byte
		for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject.String() == c.Issuer.String() {
				roots = append(roots, pem.EncodeToMemory(block)...)
			} else {
				subs = append(subs, pem.EncodeToMemory(block)...)
			}
		}
		os.WriteFile(filepath.Join(dir, "roots.pem"), roots, 0o600)
		os.WriteFile(filepath.Join(bundle, "bundle.pem"), subs, 0o600)
		return bundle
	}
	oldBundle := snapshot("old")
	fetch := func(nonce string) string {
		t.Helper()
		path := filepath.Join(dir, nonce+".json")
		if out, err := p.sh(t, `curl -sf -H Metadata:true -o `+path+` "http://127.0.0.1:8254/metadata/attested/document?api-version=2025-04-07&nonce=`+nonce+`"`); err != nil {
			t.Fatalf("fetch: %v %s", err, out)
		}
		return path
	}
	verify := func(doc, nonce, bundle string) (string, error) {
		return p.sh(t, `tegata attest verify `+doc+` --nonce `+nonce+` --roots `+filepath.Join(dir, "roots.pem")+` --bundle `+bundle+` --offline`)
	}

	before := fetch("before1")
	if out, err := verify(before, "before1", oldBundle); err != nil || !strings.Contains(out, "Issuing CA 01") {
		t.Fatalf("before the rotation: %v\n%s", err, out)
	}
	if out, err := p.sh(t, `tegata pki rotate --admin 127.0.0.1:8255`); err != nil || !strings.Contains(out, "signing now with") {
		t.Fatalf("pki rotate: %v\n%s", err, out)
	}
	after := fetch("after1")
	out, err := verify(after, "after1", oldBundle)
	if err == nil || !strings.Contains(err.Error(), "refresh the intermediates bundle") {
		t.Fatalf("after the rotation, with the old bundle: want a failure that says to refresh the bundle; got %v\n%s", err, out)
	}
	newBundle := snapshot("new")
	if out, err := verify(after, "after1", newBundle); err != nil || strings.Contains(out, "Issuing CA 01") {
		t.Fatalf("after the rotation, with a refreshed bundle: %v\n%s", err, out)
	}
	if out, err := verify(before, "before1", newBundle); err != nil {
		t.Fatalf("a document signed before the rotation must still verify: %v\n%s", err, out)
	}
}

// TestPlannedRotation runs a planned Sub CA switch through the running service, with
// the service's clock moved forward (time_travel): the next Sub CA is announced 90 days
// before it signs; the doctor flags an offline verifier whose bundle lacks it while it is
// only announced; after a bundle refresh the verifier handles the switch, and documents
// are then signed by the new Sub CA.
func TestPlannedRotation(t *testing.T) {
	testenv.Program(t, "curl", "curl")
	t.Setenv("TEGATA_TIME_TRAVEL", "true")
	p := startUp(t)
	dir := t.TempDir()
	sh := func(line string) string { t.Helper(); return p.must(t, line) }
	sh(`cd ` + dir + ` && curl -sf -o bundle.pem http://127.0.0.1:8255/pki/bundle.pem && ` +
		`awk '/BEGIN/{n++} {print > ("ca" n ".pem")}' bundle.pem && ` +
		`for f in ca[0-9]*.pem; do if [ "$(openssl x509 -in $f -noout -subject_hash)" = "$(openssl x509 -in $f -noout -issuer_hash)" ]; then cat $f >> roots.pem; fi; done`)
	sh(`tegata attest bundle refresh --out ` + dir + `/old --from http://127.0.0.1:8255/pki/bundle.pem`)

	// 10 months on: Issuing CA 02 is announced (the default plan: yearly, 90 days ahead).
	sh(`tegata imds clock advance 7300h --admin 127.0.0.1:8255`)
	doctor := `tegata attest doctor --announced http://127.0.0.1:8255/pki/bundle.pem --roots ` + dir + `/roots.pem --offline --bundle `
	at := func() string {
		return strings.TrimSpace(sh(`tegata imds clock --admin 127.0.0.1:8255 | awk '{print $3}'`))
	}
	if out, err := p.sh(t, doctor+dir+`/old --at `+at()); err == nil || !strings.Contains(out, "Issuing CA 02 is not in the bundle") {
		t.Fatalf("doctor while CA 02 is only announced: want a warning, got %v\n%s", err, out)
	}
	sh(`tegata attest bundle refresh --out ` + dir + `/new --from http://127.0.0.1:8255/pki/bundle.pem`)
	sh(doctor + dir + `/new --at ` + at())

	// Past the switch: documents come from Issuing CA 02.
	sh(`tegata imds clock advance 2400h --admin 127.0.0.1:8255`)
	sh(`curl -sf -H Metadata:true -o ` + dir + `/doc.json "http://127.0.0.1:8254/metadata/attested/document?api-version=2025-04-07&nonce=planned1"`)
	verify := `tegata attest verify ` + dir + `/doc.json --nonce planned1 --roots ` + dir + `/roots.pem --offline --at ` + at() + ` --bundle `
	if out := sh(verify + dir + `/new`); !strings.Contains(out, "Issuing CA 02") {
		t.Fatalf("after the switch the signer's issuer should be Issuing CA 02:\n%s", out)
	}
	if out, err := p.sh(t, verify+dir+`/old`); err == nil {
		t.Fatalf("a bundle from before the announcement must not verify the new Sub CA's documents:\n%s", out)
	}
}

// TestNewRootWithCrossSign introduces a second root through the running service, as
// Microsoft did with its G2 root: Sub CAs issued after it chain to the new root, and a
// cross-certificate keeps verifiers anchored on the old root working.
func TestNewRootWithCrossSign(t *testing.T) {
	testenv.Program(t, "curl", "curl")
	testenv.Program(t, "openssl", "openssl")
	dir := t.TempDir()
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	conf := filepath.Join(dir, "tegata.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`pki:
  plan:
    start: %s
    roots:
      - {}
      - introduce: %s
        cross_sign: true
`, start.Format(time.RFC3339), start.Add(200*24*time.Hour).Format(time.RFC3339))), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEGATA_TIME_TRAVEL", "true")
	p := startUp(t, "--config", conf)
	sh := func(line string) string { t.Helper(); return p.must(t, line) }
	// The old root, as verifiers configured it at the start.
	sh(`cd ` + dir + ` && curl -sf http://127.0.0.1:8255/pki/root-ca-01.crt | openssl x509 -inform der -out old-root.pem`)

	// Past the new root's introduction and the next Sub CA's activation (day 365).
	sh(`tegata imds clock advance 9000h --admin 127.0.0.1:8255`)
	at := strings.TrimSpace(sh(`tegata imds clock --admin 127.0.0.1:8255 | awk '{print $3}'`))
	sh(`cd ` + dir + ` && curl -sf http://127.0.0.1:8255/pki/root-ca-02.crt | openssl x509 -inform der -out new-root.pem`)
	sh(`tegata attest bundle refresh --out ` + dir + `/bundle --from http://127.0.0.1:8255/pki/bundle.pem`)
	sh(`curl -sf -H Metadata:true -o ` + dir + `/doc.json "http://127.0.0.1:8254/metadata/attested/document?api-version=2025-04-07&nonce=newroot"`)

	for _, root := range []string{"old-root.pem", "new-root.pem"} {
		out := sh(`tegata attest verify ` + dir + `/doc.json --nonce newroot --offline --at ` + at + ` --roots ` + dir + `/` + root + ` --bundle ` + dir + `/bundle`)
		if !strings.Contains(out, "Issuing CA 02") {
			t.Fatalf("anchored on %s: the signer should be under Issuing CA 02:\n%s", root, out)
		}
		if root == "old-root.pem" && !strings.Contains(out, "Root CA 01") {
			t.Fatalf("anchored on the old root, the chain must go through the cross-certificate to Root CA 01:\n%s", out)
		}
	}
}
