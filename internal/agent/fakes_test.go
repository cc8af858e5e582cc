package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/certkit"
)

// testPKI is a root and an intermediate CA that issue leaves.
type testPKI struct {
	rootKey, interKey crypto.Signer
	root, inter       *x509.Certificate
	serial            int64
	mu                sync.Mutex
}

func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newTestPKI(t testing.TB) *testPKI {
	p := &testPKI{rootKey: newKey(t), interKey: newKey(t), serial: 100}
	now := time.Now()
	p.root = p.sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: "tegata test root"}, NotBefore: now.Add(-48 * time.Hour),
		NotAfter: now.Add(10 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign},
		p.rootKey.Public(), nil, p.rootKey)
	p.inter = p.sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: "tegata test intermediate"}, NotBefore: now.Add(-48 * time.Hour),
		NotAfter: now.Add(5 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign},
		p.interKey.Public(), p.root, p.rootKey)
	return p
}

func (p *testPKI) sign(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, key crypto.Signer) *x509.Certificate {
	t.Helper()
	p.mu.Lock()
	p.serial++
	tmpl.SerialNumber = big.NewInt(p.serial)
	p.mu.Unlock()
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leaf issues a server certificate for names, valid from notBefore to
// notAfter, signed by the intermediate.
func (p *testPKI) leaf(t testing.TB, notBefore, notAfter time.Time, names ...string) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	k := newKey(t)
	var ips []net.IP
	var dns []string
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, n)
		}
	}
	c := p.sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: names[0]}, DNSNames: dns, IPAddresses: ips,
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, k.Public(), p.inter, p.interKey)
	return k, c
}

// material is a fresh leaf (valid from an hour ago for 90 days, shifted
// by age) with the intermediate and the root.
func (p *testPKI) material(t testing.TB, age time.Duration) certkit.Material {
	now := time.Now().Add(age)
	k, c := p.leaf(t, now.Add(-time.Hour), now.Add(90*24*time.Hour), "www.example.test")
	return certkit.Material{Key: k, Chain: []*x509.Certificate{c, p.inter, p.root}}
}

// caPEM writes the root to a file and returns its path.
func (p *testPKI) caFile(t testing.TB) string {
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func pfxValue(t testing.TB, m certkit.Material) string {
	t.Helper()
	der, err := certkit.EncodePFX(m, true)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// fakeVersion is one secret version of the fake vault.
type fakeVersion struct {
	version, value, contentType string
	enabled                     bool
}

// fakeVault speaks just enough Key Vault for the agent: the 401 challenge,
// GET /secrets/{name}/ and /secrets/{name}/{version}, with the error
// envelope. Tokens are checked against those fakeIMDS issued.
type fakeVault struct {
	t        testing.TB
	srv      *httptest.Server
	imds     *fakeIMDS
	resource string

	mu              sync.Mutex
	secrets         map[string][]fakeVersion
	unauthenticated int // requests without a token
	requests        int
	forbid          bool // answer 403 ForbiddenByRbac
	rejectAll       bool // answer 401 to every token
	failNext        int  // answer 503 to the next n requests
	seq             int
}

func newFakeVault(t testing.TB, pki *testPKI, imds *fakeIMDS) *fakeVault {
	v := &fakeVault{t: t, imds: imds, resource: "https://vault.test.example", secrets: map[string][]fakeVersion{}}
	k, c := pki.leaf(t, time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour), "kv1.vault.test.example", "127.0.0.1")
	v.srv = httptest.NewUnstartedServer(http.HandlerFunc(v.serve))
	v.srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{c.Raw, pki.inter.Raw}, PrivateKey: k}}}
	v.srv.StartTLS()
	t.Cleanup(v.srv.Close)
	return v
}

// url returns the observed URL of a secret on this vault.
func (v *fakeVault) url(name string) string { return v.srv.URL + "/secrets/" + name }

// add stores a new version of name and returns its version id.
func (v *fakeVault) add(name, contentType, value string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seq++
	ver := fmt.Sprintf("%08x%024x", v.seq, time.Now().UnixNano())
	v.secrets[name] = append(v.secrets[name], fakeVersion{version: ver, value: value, contentType: contentType, enabled: true})
	return ver
}

// addPFX stores m as a PFX-backed certificate secret.
func (v *fakeVault) addPFX(name string, m certkit.Material) string {
	return v.add(name, certkit.ContentTypePKCS12, pfxValue(v.t, m))
}

func (v *fakeVault) disableLatest(name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	vs := v.secrets[name]
	vs[len(vs)-1].enabled = false
}

func (v *fakeVault) set(f func(v *fakeVault)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	f(v)
}

func (v *fakeVault) counts() (requests, unauthenticated int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.requests, v.unauthenticated
}

func kvError(w http.ResponseWriter, status int, code, inner, msg string) {
	env := map[string]any{"code": code, "message": msg}
	if inner != "" {
		env["innererror"] = map[string]string{"code": inner}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": env})
}

func (v *fakeVault) serve(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.requests++
	if v.failNext > 0 {
		v.failNext--
		w.Header().Set("Retry-After", "1")
		kvError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "", "try later")
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		v.unauthenticated++
	}
	if !ok || v.rejectAll || !v.imds.valid(token, v.resource) {
		w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.test.example/tenant-1", resource="`+v.resource+`"`)
		kvError(w, http.StatusUnauthorized, "Unauthorized", "", "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		kvError(w, http.StatusBadRequest, "BadParameter", "", "api-version missing")
		return
	}
	if v.forbid {
		kvError(w, http.StatusForbidden, "Forbidden", "ForbiddenByRbac", "Caller is not authorized to perform action on resource.")
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "secrets" {
		kvError(w, http.StatusNotFound, "NotFound", "", "no route")
		return
	}
	versions := v.secrets[parts[1]]
	var found *fakeVersion
	switch {
	case len(versions) == 0:
	case len(parts) == 2 || parts[2] == "":
		found = &versions[len(versions)-1]
	default:
		for i := range versions {
			if versions[i].version == parts[2] {
				found = &versions[i]
			}
		}
	}
	if found == nil {
		kvError(w, http.StatusNotFound, "SecretNotFound", "", "A secret with (name/id) "+parts[1]+" was not found in this key vault.")
		return
	}
	if !found.enabled {
		kvError(w, http.StatusForbidden, "Forbidden", "SecretDisabled", "Operation get is not allowed on a disabled secret.")
		return
	}
	host := r.Host
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"value": found.value, "contentType": found.contentType, "managed": true,
		"id":         "https://" + host + "/secrets/" + parts[1] + "/" + found.version,
		"attributes": map[string]any{"enabled": true, "created": time.Now().Unix()},
	})
}

// fakeIMDS issues managed-identity tokens.
type fakeIMDS struct {
	srv *httptest.Server

	mu       sync.Mutex
	issued   map[string]string // token -> resource
	calls    int
	clientID string // the last client_id asked for
	refuse   bool   // answer 400 Identity not found
	lifetime time.Duration
	clock    func() time.Time
}

func newFakeIMDS(t testing.TB) *fakeIMDS {
	m := &fakeIMDS{issued: map[string]string{}, lifetime: time.Hour, clock: time.Now}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *fakeIMDS) valid(token, resource string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.issued[token] == resource
}

func (m *fakeIMDS) serve(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	q := r.URL.Query()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	switch {
	case r.URL.Path != "/metadata/identity/oauth2/token":
		w.WriteHeader(http.StatusNotFound)
		return
	case r.Header.Get("Metadata") != "true":
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"Required metadata header not specified"}`))
		return
	case m.refuse:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request","error_description":"Identity not found"}`))
		return
	case q.Get("api-version") != "2018-02-01" || q.Get("resource") == "":
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	m.clientID = q.Get("client_id")
	tok := fmt.Sprintf("tok-%d", m.calls)
	m.issued[tok] = q.Get("resource")
	exp := m.clock().Add(m.lifetime)
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": fmt.Sprint(int(m.lifetime.Seconds())),
		"expires_on": fmt.Sprint(exp.Unix()), "resource": q.Get("resource"), "token_type": "Bearer"})
}

func (m *fakeIMDS) callCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one test's vault, metadata service, store directory and agent
// settings.
type env struct {
	t     testing.TB
	pki   *testPKI
	imds  *fakeIMDS
	vault *fakeVault
	store string
	clock *fakeClock
	// hooks records the hooks run, by String(); hookErr, when set, fails them.
	mu      sync.Mutex
	hooks   []string
	hookErr error
}

func newEnv(t testing.TB) *env {
	e := &env{t: t, pki: newTestPKI(t), imds: newFakeIMDS(t), store: filepath.Join(t.TempDir(), "store"), clock: &fakeClock{t: time.Now()}}
	e.imds.clock = e.clock.Now
	e.vault = newFakeVault(t, e.pki, e.imds)
	return e
}

// settings returns a settings file observing the given secrets, with extra
// JSON for secretsManagementSettings and tegata.
func (e *env) settings(names []string, smsExtra, tegataExtra string) string {
	var urls []string
	for _, n := range names {
		urls = append(urls, fmt.Sprintf("%q", e.vault.url(n)))
	}
	return fmt.Sprintf(`{"secretsManagementSettings":{"pollingIntervalInS":"3600","certificateStoreLocation":%q,%s
		"observedCertificates":[%s]},
		"authenticationSettings":{"msiEndpoint":%q},
		"tegata":{"caFile":%q,"statusFile":%q%s}}`,
		e.store, smsExtra, strings.Join(urls, ","), e.imds.srv.URL+"/metadata/identity",
		e.pki.caFile(e.t), filepath.Join(e.store+"-status", "status.json"), tegataExtra)
}

// agent parses settings and returns an agent on the fake clock, with hooks
// recorded instead of run.
func (e *env) agent(settings string, opts ParseOptions) *Agent {
	e.t.Helper()
	s := mustParse(e.t, []byte(settings), opts)
	p := mustPlan(e.t, s, "linux")
	a, err := New(Options{Plan: p, Clock: e.clock.Now, RunHook: e.runHook})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) runHook(_ context.Context, h Hook, links []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hooks = append(e.hooks, h.String())
	return e.hookErr
}

func (e *env) hookRuns() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.hooks...)
}
