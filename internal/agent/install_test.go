package agent

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/certkit"
	"software.sslmate.com/src/go-pkcs12"
)

// pemBlocks returns the block types of a PEM file and its certificates.
func pemBlocks(t *testing.T, path string) ([]string, []*x509.Certificate) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		types = append(types, b.Type)
		if b.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			certs = append(certs, c)
		}
	}
	if len(bytes.TrimSpace(data)) != 0 {
		t.Errorf("%s: trailing bytes after the PEM blocks", path)
	}
	return types, certs
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func mustSync(t *testing.T, a *Agent) *Report {
	t.Helper()
	r := a.SyncOnce(context.Background())
	if !r.OK() {
		t.Fatalf("sync not OK: %v (%+v)", r.Err(), r.Certificates)
	}
	return r
}

// TestInstallLayout checks C.6: versioned files, a relative symlink, 0600
// files in a 0700 directory, the PEM order (leaf, intermediates, root, key
// last), the link moving on renewal, and retention of current + 2.
func TestInstallLayout(t *testing.T) {
	e := newEnv(t)
	a := e.agent(e.settings([]string{"site1"}, "", ""), ParseOptions{})
	m1 := e.pki.material(t, 0)
	v1 := e.vault.addPFX("site1", m1)
	r := mustSync(t, a)
	if !r.Certificates[0].Changed || r.Certificates[0].Version != v1 {
		t.Errorf("report %+v", r.Certificates[0])
	}
	link := filepath.Join(e.store, "127-0-0-1.site1")
	file1 := filepath.Join(e.store, "127-0-0-1.site1."+v1)
	if got, err := os.Readlink(link); err != nil || got != "127-0-0-1.site1."+v1 {
		t.Fatalf("link -> %q, %v; want the relative version file name", got, err)
	}
	if m := mode(t, e.store); m.Perm() != 0o700 || !m.IsDir() {
		t.Errorf("store directory mode %v, want drwx------", m)
	}
	if m := mode(t, file1); m.Perm() != 0o600 || !m.IsRegular() {
		t.Errorf("version file mode %v, want -rw-------", m)
	}
	types, certs := pemBlocks(t, link)
	if strings.Join(types, ",") != "CERTIFICATE,CERTIFICATE,CERTIFICATE,PRIVATE KEY" {
		t.Errorf("blocks %v, want leaf, intermediate, root, then the key", types)
	}
	if !certs[0].Equal(m1.Chain[0]) || !certs[1].Equal(e.pki.inter) || !certs[2].Equal(e.pki.root) {
		t.Error("certificates out of order")
	}
	// Three renewals: the link follows each; retention keeps current + 2.
	var versions []string
	for i := 1; i <= 3; i++ {
		e.clock.Advance(time.Minute)
		versions = append(versions, e.vault.addPFX("site1", e.pki.material(t, time.Duration(i)*time.Minute)))
		time.Sleep(10 * time.Millisecond) // distinct modification times for retention
		mustSync(t, a)
		if got, _ := os.Readlink(link); got != "127-0-0-1.site1."+versions[i-1] {
			t.Errorf("after renewal %d the link points to %q", i, got)
		}
	}
	want := []string{"127-0-0-1.site1", "127-0-0-1.site1." + versions[0], "127-0-0-1.site1." + versions[1], "127-0-0-1.site1." + versions[2]}
	sort.Strings(want)
	if got := listDir(t, e.store); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("store holds %v, want %v (the first version pruned, no temporary files)", got, want)
	}
	// An unchanged vault installs nothing.
	if r := mustSync(t, a); r.Certificates[0].Changed {
		t.Error("unchanged version reinstalled")
	}
}

// TestSymlinkSwapIsAtomic reads the link continuously while versions are
// installed: every read must see a complete file, old or new.
func TestSymlinkSwapIsAtomic(t *testing.T) {
	e := newEnv(t)
	a := e.agent(e.settings([]string{"site1"}, "", `,"retain":0`), ParseOptions{})
	e.vault.addPFX("site1", e.pki.material(t, 0))
	mustSync(t, a)
	link := filepath.Join(e.store, "127-0-0-1.site1")
	stop := make(chan struct{})
	bad := make(chan string, 1)
	reads := 0
	go func() {
		defer close(bad)
		for {
			select {
			case <-stop:
				return
			default:
			}
			data, err := os.ReadFile(link)
			if err != nil {
				bad <- err.Error()
				return
			}
			if !bytes.HasSuffix(data, []byte("-----END PRIVATE KEY-----\n")) || bytes.Count(data, []byte("BEGIN CERTIFICATE")) != 3 {
				bad <- "a partial file: " + string(data[:min(len(data), 60)])
				return
			}
			reads++
		}
	}()
	for i := 1; i <= 20; i++ {
		e.clock.Advance(time.Minute)
		e.vault.addPFX("site1", e.pki.material(t, time.Duration(i)*time.Minute))
		mustSync(t, a)
	}
	close(stop)
	if msg, ok := <-bad; ok {
		t.Fatalf("a reader saw %s", msg)
	}
	if reads == 0 {
		t.Error("the reader never ran")
	}
	if got := listDir(t, e.store); len(got) != 2 {
		t.Errorf("retain 0 keeps the link and the current file only: %v", got)
	}
}

// TestV1WritesLeafAndKeyOnly checks the Linux v1 form, and that a later
// start with the v2 form rewrites the installed version with its chain (C.8).
func TestV1WritesLeafAndKeyOnly(t *testing.T) {
	e := newEnv(t)
	settings := e.settings([]string{"site1"}, "", "")
	v := e.vault.addPFX("site1", e.pki.material(t, 0))
	mustSync(t, e.agent(settings, ParseOptions{Schema: SchemaV1}))
	link := filepath.Join(e.store, "127-0-0-1.site1")
	if types, _ := pemBlocks(t, link); strings.Join(types, ",") != "CERTIFICATE,PRIVATE KEY" {
		t.Errorf("v1 blocks %v, want the leaf and the key", types)
	}
	r := mustSync(t, e.agent(settings, ParseOptions{Schema: SchemaV2}))
	if !r.Certificates[0].Changed || r.Certificates[0].Version != v {
		t.Errorf("schema change: %+v, want the same version rewritten", r.Certificates[0])
	}
	if types, _ := pemBlocks(t, link); len(types) != 4 {
		t.Errorf("v2 blocks %v, want the chain too", types)
	}
}

// TestPFXAndPEMGiveTheSameFile is C-4: a PFX secret and a PEM secret (its
// blocks in any order) give the same file.
func TestPFXAndPEMGiveTheSameFile(t *testing.T) {
	e := newEnv(t)
	m := e.pki.material(t, 0)
	key := certkit.EncodePEM(certkit.Material{Key: m.Key, Chain: m.Chain[:1]})
	keyOnly := key[:bytes.Index(key, []byte("-----BEGIN CERTIFICATE"))]
	scrambled := append(append(certsPEM([]*x509.Certificate{e.pki.inter}), keyOnly...), certsPEM([]*x509.Certificate{e.pki.root, m.Chain[0]})...)
	e.vault.addPFX("pfx", m)
	e.vault.add("pem", certkit.ContentTypePEM, string(scrambled))
	e.vault.add("pemnotype", "", string(certkit.EncodePEM(m)))
	mustSync(t, e.agent(e.settings([]string{"pfx", "pem", "pemnotype"}, "", ""), ParseOptions{}))
	a, _ := os.ReadFile(filepath.Join(e.store, "127-0-0-1.pfx"))
	b, _ := os.ReadFile(filepath.Join(e.store, "127-0-0-1.pem"))
	c, _ := os.ReadFile(filepath.Join(e.store, "127-0-0-1.pemnotype"))
	if len(a) == 0 || !bytes.Equal(a, b) || !bytes.Equal(a, c) {
		t.Errorf("PFX and PEM secrets gave different files:\n%s\n---\n%s", a, b)
	}
}

// TestExtraFormats checks tegata.formats, owner, group and mode.
func TestExtraFormats(t *testing.T) {
	e := newEnv(t)
	gid := os.Getgid()
	a := e.agent(e.settings([]string{"site1"}, "", `,"formats":["cert.pem","key.pem","fullchain.pem","chain.pem","cert.pfx"],"group":"`+strconv.Itoa(gid)+`","mode":"0640"`), ParseOptions{})
	m := e.pki.material(t, 0)
	v1 := e.vault.addPFX("site1", m)
	mustSync(t, a)
	dir := filepath.Join(e.store, "127-0-0-1.site1.d")
	if got, _ := os.Readlink(filepath.Join(dir, "current")); got != v1 {
		t.Errorf("current -> %q, want %s", got, v1)
	}
	if md := mode(t, dir); md.Perm() != 0o750 {
		t.Errorf("formats directory mode %v, want 0750 for files of mode 0640", md)
	}
	cur := filepath.Join(dir, "current")
	if md := mode(t, filepath.Join(e.store, "127-0-0-1.site1."+v1)); md.Perm() != 0o640 {
		t.Errorf("version file mode %v, want the configured 0640", md)
	}
	if _, c := pemBlocks(t, filepath.Join(cur, "cert.pem")); len(c) != 1 || !c[0].Equal(m.Chain[0]) {
		t.Error("cert.pem is not the leaf")
	}
	if _, c := pemBlocks(t, filepath.Join(cur, "fullchain.pem")); len(c) != 2 || !c[1].Equal(e.pki.inter) {
		t.Error("fullchain.pem is not the leaf and the intermediate")
	}
	if _, c := pemBlocks(t, filepath.Join(cur, "chain.pem")); len(c) != 1 || !c[0].Equal(e.pki.inter) {
		t.Error("chain.pem is not the intermediate")
	}
	if types, _ := pemBlocks(t, filepath.Join(cur, "key.pem")); strings.Join(types, ",") != "PRIVATE KEY" {
		t.Errorf("key.pem blocks %v", types)
	}
	pfx, _ := os.ReadFile(filepath.Join(cur, "cert.pfx"))
	key, leaf, cas, err := pkcs12.DecodeChain(pfx, "")
	if err != nil || !leaf.Equal(m.Chain[0]) || len(cas) != 2 || !publicKeyEqual(key.(crypto.Signer).Public(), leaf.PublicKey) {
		t.Errorf("cert.pfx: %v", err)
	}
	for _, f := range []string{"cert.pem", "key.pem", "cert.pfx"} {
		if md := mode(t, filepath.Join(cur, f)); md.Perm() != 0o640 {
			t.Errorf("%s mode %v", f, md)
		}
	}
	e.clock.Advance(time.Minute)
	v2 := e.vault.addPFX("site1", e.pki.material(t, time.Minute))
	mustSync(t, a)
	if got, _ := os.Readlink(filepath.Join(dir, "current")); got != v2 {
		t.Errorf("after renewal current -> %q, want %s", got, v2)
	}
}
