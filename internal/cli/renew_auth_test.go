package cli

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tegata-project/tegata/internal/config"
	"github.com/tegata-project/tegata/internal/pki"
	"github.com/tegata-project/tegata/internal/renew"
	"github.com/tegata-project/tegata/internal/renew/schedule"
	"github.com/tegata-project/tegata/internal/store"
	"github.com/tegata-project/tegata/internal/store/sqlite"
	"github.com/tegata-project/tegata/internal/testenv"
	"github.com/tegata-project/tegata/internal/vault"
	"github.com/tegata-project/tegata/internal/vault/auth"
)

// The service principal of these tests, in its tenant. Its object ID (the oid of its
// tokens, which role assignments name) differs from its application ID, as in Entra ID.
const (
	spTenant   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	spClientID = "6a1b2c3d-0000-4000-8000-00000000c1e7"
	spObjectID = "0b7e4f10-0000-4000-8000-0000000000b7"
	spSecret   = "Qx8~tegata.test.client-secret_1"
	vaultAud   = "https://vault.azure.net"
)

// fakeEntra is a MOCK of Microsoft Entra ID's token service: Entra ID cannot run
// here, so this stands in for it with what azidentity's confidential client (MSAL Go
// v1.10) asks for, and nothing else: the tenant's OpenID discovery document
// (/{tenant}/v2.0/.well-known/openid-configuration; instance discovery is off for a
// non-Entra authority, and any other path fails the test), the v2.0 token endpoint
// with grant_type=client_credentials, authenticating the client by its secret or by
// a client assertion (a JWT signed with the application's certificate, checked like
// Entra ID: signature, iss = sub = client_id, aud = the token endpoint, times,
// x5t#S256), and the keys that sign its tokens (/{tenant}/discovery/v2.0/keys), which
// the vault under test trusts. Its tokens are v1 Key Vault tokens as Entra ID issues
// them for https://vault.azure.net/.default (iss https://sts.windows.net/{tenant}/,
// aud, tid, oid, appid, idtyp app). It shows that tegata speaks the protocol; it is
// not a test against Azure.
type fakeEntra struct {
	t   testing.TB
	srv *httptest.Server
	key *rsa.PrivateKey

	mu      sync.Mutex
	secret  string            // the client secret accepted now
	cert    *x509.Certificate // the certificate registered on the application
	grants  []string          // "secret" or "certificate", per token issued
	refused int
	ttl     int // expires_in of the answers, seconds
}

func startFakeEntra(t testing.TB, cert tls.Certificate) *fakeEntra {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeEntra{t: t, key: key, secret: spSecret, ttl: 3599}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", f.discovery)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", f.keys)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", f.token)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("fake Entra ID: unexpected request %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	})
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEntra) tenantURL(tenant string) string { return f.srv.URL + "/" + tenant }

func (f *fakeEntra) oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"error": code,
		// Entra ID's descriptions end with trace lines, after a CRLF.
		"error_description": desc + "\r\nTrace ID: 00000000-0000-0000-0000-000000000000\r\nCorrelation ID: 00000000-0000-0000-0000-000000000000\r\nTimestamp: " + time.Now().UTC().Format("2006-01-02 15:04:05Z"),
	})
}

func (f *fakeEntra) discovery(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if tenant != spTenant {
		f.oauthError(w, http.StatusBadRequest, "invalid_tenant", fmt.Sprintf("AADSTS90002: Tenant '%s' not found.", tenant))
		return
	}
	base := f.tenantURL(tenant)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                base + "/v2.0",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
	})
}

func (f *fakeEntra) keys(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "entra-k1", Algorithm: "RS256", Use: "sig"}}})
}

func (f *fakeEntra) token(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if err := r.ParseForm(); err != nil || tenant != spTenant {
		f.oauthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: malformed request or unknown tenant.")
		return
	}
	form := r.PostForm
	if g := form.Get("grant_type"); g != "client_credentials" {
		f.oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("AADSTS70003: grant type %q is not supported here.", g))
		return
	}
	if c := form.Get("client_id"); c != spClientID {
		f.oauthError(w, http.StatusBadRequest, "unauthorized_client", fmt.Sprintf("AADSTS700016: Application with identifier '%s' was not found in the directory.", c))
		return
	}
	if !slices.Contains(strings.Fields(form.Get("scope")), vaultAud+"/.default") {
		f.oauthError(w, http.StatusBadRequest, "invalid_scope", fmt.Sprintf("AADSTS70011: The provided scope %q is not valid here.", form.Get("scope")))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var how string
	switch {
	case form.Get("client_secret") != "":
		if subtle.ConstantTimeCompare([]byte(form.Get("client_secret")), []byte(f.secret)) != 1 {
			f.refused++
			f.oauthError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+spClientID+"'.")
			return
		}
		how = "secret"
	case form.Get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
		if err := f.checkAssertion(form.Get("client_assertion"), f.tenantURL(tenant)+"/oauth2/v2.0/token"); err != nil {
			f.refused++
			f.oauthError(w, http.StatusUnauthorized, "invalid_client", "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. "+err.Error())
			return
		}
		how = "certificate"
	default:
		f.oauthError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
		return
	}
	tok, err := f.mint(how)
	if err != nil {
		f.oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	f.grants = append(f.grants, how)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": f.ttl, "ext_expires_in": f.ttl, "access_token": tok})
}

// checkAssertion verifies a client assertion as Entra ID does (RFC 7523): signed
// with the registered certificate's key, named by its SHA-256 thumbprint, issued by
// and for the client, for this token endpoint, current.
func (f *fakeEntra) checkAssertion(assertion, endpoint string) error {
	if f.cert == nil {
		return errors.New("no certificate is registered")
	}
	tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.PS256, jose.RS256})
	if err != nil {
		return err
	}
	var c jwt.Claims
	if err := tok.Claims(f.cert.PublicKey, &c); err != nil {
		return fmt.Errorf("signature: %v", err)
	}
	if c.Issuer != spClientID || c.Subject != spClientID || !c.Audience.Contains(endpoint) {
		return fmt.Errorf("claims iss %q sub %q aud %v", c.Issuer, c.Subject, c.Audience)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Time: time.Now()}, time.Minute); err != nil {
		return err
	}
	head, _, _ := strings.Cut(assertion, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return err
	}
	var h map[string]any
	json.Unmarshal(raw, &h)
	sum := sha256.Sum256(f.cert.Raw)
	if h["x5t#S256"] != base64.StdEncoding.EncodeToString(sum[:]) {
		return fmt.Errorf("x5t#S256 %v names another certificate", h["x5t#S256"])
	}
	return nil
}

// mint is an app-only v1 access token for Key Vault, as Entra ID issues to a service
// principal (appidacr 1: secret, 2: certificate).
func (f *fakeEntra) mint(how string) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: f.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "entra-k1"))
	if err != nil {
		return "", err
	}
	acr := "1"
	if how == "certificate" {
		acr = "2"
	}
	now := time.Now()
	return jwt.Signed(signer).Claims(map[string]any{
		"aud": vaultAud, "iss": "https://sts.windows.net/" + spTenant + "/", "tid": spTenant,
		"oid": spObjectID, "sub": spObjectID, "appid": spClientID, "appidacr": acr, "idtyp": "app", "ver": "1.0",
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}).Serialize()
}

func (f *fakeEntra) setSecret(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secret = s
}

func (f *fakeEntra) counts() (grants []string, refused int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.grants), f.refused
}

// spVault is tegata's vault in process, trusting the fake Entra ID's tokens (its
// keys fetched from its JWKS, as from Entra ID's), with the service principal
// assigned Key Vault Certificates Officer and Key Vault Secrets Officer (the ACME
// account key is a secret). Its challenge names the fake authority and the tenant.
type spVault struct {
	url    string
	caFile string // the local TLS CA both servers' certificates chain to
	st     store.Store
	entra  *fakeEntra
}

func startSPVault(t testing.TB) *spVault {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "tegata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	raw := make([]byte, 32)
	rand.Read(raw)
	master, _ := pki.NewMasterKey(raw)
	sealer, _ := vault.NewSealer(master)
	cert, ca, err := pki.LocalTLS(dir, master, []string{"127.0.0.1", "localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	entra := startFakeEntra(t, cert)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	jwksClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	validator, err := auth.NewValidator(auth.Options{Issuer: "https://sts.windows.net/" + spTenant + "/", Tenant: spTenant, Resources: []string{vaultAud},
		Keys: auth.RemoteKeys(entra.tenantURL(spTenant)+"/discovery/v2.0/keys", jwksClient)})
	if err != nil {
		t.Fatal(err)
	}
	for i, role := range []string{"a4417e6f-fecd-4de8-b567-7b0420556985", "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"} {
		if err := st.PutAssignment(context.Background(), store.Assignment{ID: fmt.Sprintf("sp%d", i), Vault: "kv1", Principal: spObjectID, RoleID: role, Scope: "/", Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	v, err := vault.New(context.Background(), vault.Options{Name: "kv1", Domain: "vault.azure.net", Authority: auth.TenantAuthority(entra.srv.URL, spTenant),
		Tokens: validator, Store: st, Sealer: sealer, RecoverableDays: 7, ReadCache: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(v)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(func() { srv.Close(); v.Close() })
	return &spVault{url: srv.URL, caFile: filepath.Join(dir, pki.TLSCAFile), st: st, entra: entra}
}

// spConfig is a renew section for the vault's service principal, with the client
// secret in a file (mode 0600).
func spConfig(t testing.TB, sv *spVault, secret string) config.Config {
	t.Helper()
	secretFile := filepath.Join(t.TempDir(), "sp-secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Renew.Directory = "https://127.0.0.1:1/dir" // replaced where the CA is reached
	cfg.Renew.VaultAuth = config.VaultAuthConfig{TenantID: spTenant, ClientID: spClientID, ClientSecretFile: secretFile, AuthorityHost: sv.entra.srv.URL + "/"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// writeClientCert writes a self-signed RSA client certificate and its key in one PEM
// file (mode 0600), as an application's certificate credential is kept.
func writeClientCert(t testing.TB) (string, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "tegata-renewal-sp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pk, _ := x509.MarshalPKCS8PrivateKey(key)
	p := filepath.Join(t.TempDir(), "sp.pem")
	body := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})...)
	if err := os.WriteFile(p, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, cert
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// noIMDS is a metadata service address where nothing listens: a renewal that works
// cannot have used the managed identity.
const noIMDS = "http://127.0.0.1:1"

// TestRenewVaultAuthRefused: a wrong client secret, or a certificate that is not the
// application's, stops the renewal service at start with one line that says what the
// authority answered and which settings to check (against the mock of Entra ID).
func TestRenewVaultAuthRefused(t *testing.T) {
	sv := startSPVault(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cfg := spConfig(t, sv, "not-the-secret")
	_, err := startRenew(ctx, cfg, sv.st, sv.url, noIMDS, sv.caFile, time.Now, testLog(t))
	if err == nil {
		t.Fatal("a wrong client secret was accepted")
	}
	msg := err.Error()
	t.Logf("wrong secret: %s", msg)
	for _, want := range []string{"vault", "renew.vault_auth", spClientID, spTenant, "401", "invalid_client", "AADSTS7000215", "check renew.vault_auth.tenant_id, client_id, and the secret in client_secret_file"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "\n") || strings.Contains(msg, "Trace ID") || strings.Contains(msg, "not-the-secret") {
		t.Errorf("the error is not one line without the trace lines and the secret: %q", msg)
	}
	if !errors.Is(err, renew.ErrVault) {
		t.Errorf("not a vault error: %v", err)
	}

	// A certificate the application does not have.
	certFile, _ := writeClientCert(t)
	cfg.Renew.VaultAuth.ClientSecretFile, cfg.Renew.VaultAuth.ClientCertificateFile = "", certFile
	_, err = startRenew(ctx, cfg, sv.st, sv.url, noIMDS, sv.caFile, time.Now, testLog(t))
	if err == nil || !strings.Contains(err.Error(), "AADSTS700027") || !strings.Contains(err.Error(), "client_certificate_file is the one uploaded") || !strings.Contains(err.Error(), "CN=tegata-renewal-sp") {
		t.Errorf("unregistered certificate: %v", err)
	}
	if grants, refused := sv.entra.counts(); len(grants) != 0 || refused < 2 {
		t.Errorf("tokens issued %v, refused %d", grants, refused)
	}

	// A file group or others may read is refused before anything is asked.
	os.Chmod(certFile, 0o644)
	if _, err = startRenew(ctx, cfg, sv.st, sv.url, noIMDS, sv.caFile, time.Now, testLog(t)); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("certificate file of mode 0644: %v", err)
	}
	// The authority's TLS certificate is checked against the vault's trust: without
	// the vault's CA the local authority is not trusted, and the error says where to look.
	cfg.Renew.VaultAuth.ClientCertificateFile, cfg.Renew.VaultAuth.ClientSecretFile = "", spConfig(t, sv, spSecret).Renew.VaultAuth.ClientSecretFile
	cred, _, err := renewCredential(cfg.Renew.VaultAuth, noIMDS, &http.Client{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{vaultAud + "/.default"}})
	t.Logf("untrusted authority: %v", err)
	if err == nil || !strings.Contains(err.Error(), "authority_host") || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted authority: %v", err)
	}
	// A vault of another tenant (its challenge names the tenant): the error says which.
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{vaultAud + "/.default"}, TenantID: "0c0ffee0-0000-4000-8000-000000000000"}); err == nil ||
		!strings.Contains(err.Error(), "asks for a token of tenant 0c0ffee0-0000-4000-8000-000000000000; set renew.vault_auth.tenant_id") {
		t.Errorf("another tenant: %v", err)
	}
}

// TestRenewVaultAuthClientCredentials: the renewal service, started as `tegata renew
// run` and `tegata up` start it, authenticates to tegata's vault as a service
// principal with client credentials from the mock of Entra ID (fakeEntra) and issues
// a certificate from Pebble into the vault, the key made in the vault; the metadata
// service is unreachable, so the managed identity cannot have been used. After the
// secret is rotated at the authority, a renewal fails with a vault error that says to
// check the secret, and the current certificate stays. With a client certificate
// instead of the secret, the next certificate is issued.
func TestRenewVaultAuthClientCredentials(t *testing.T) {
	t.Setenv("LEGO_DISABLE_CNAME_SUPPORT", "true")
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	sv := startSPVault(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	cfg := spConfig(t, sv, spSecret)
	caFile := filepath.Join(t.TempDir(), "pebble-tls.pem")
	if err := os.WriteFile(caFile, peb.TLSRootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Renew.Directory, cfg.Renew.CAFile = peb.DirectoryURL, caFile
	cfg.Renew.Resolvers, cfg.Renew.PropagationTimeout = []string{peb.DNSAddr}, 10*time.Second
	cfg.Renew.DNSProviders = []config.DNSProviderConfig{{Name: "test-dns", Type: "challtestsrv", Config: map[string]string{"url": peb.ChallTestSrvURL}}}
	cfg.Renew.Certificates = []config.CertificateConfig{{DNSNames: []string{"sp.example.test"}, DNSProvider: "test-dns"}}
	// Tokens said to last 2 s (their exp is an hour away): every vault call after a
	// pause asks the authority again, so a rotated secret shows at the next renewal.
	sv.entra.mu.Lock()
	sv.entra.ttl = 2
	sv.entra.mu.Unlock()

	svc, err := startRenew(ctx, cfg, sv.st, sv.url, noIMDS, sv.caFile, time.Now, testLog(t))
	if err != nil {
		t.Fatalf("start with a client secret: %v", err)
	}
	first := managedStatus(t, sv.st, "sp-example-test")
	if first.Issued != 1 || first.LastError != "" || first.Version == "" {
		t.Fatalf("after start: %+v", first)
	}
	if grants, refused := sv.entra.counts(); !slices.Contains(grants, "secret") || refused != 0 {
		t.Fatalf("tokens issued %v, refused %d", grants, refused)
	}
	// The certificate is in the vault, read back with the same credential.
	cred, _, err := renewCredential(cfg.Renew.VaultAuth, noIMDS, vaultTestClient(t, sv.caFile))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := azcertificates.NewClient(sv.url, cred, &azcertificates.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: vaultTestClient(t, sv.caFile)}, DisableChallengeResourceVerification: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := certs.GetCertificate(ctx, "sp-example-test", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(got.CER)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(leaf.DNSNames, "sp.example.test") || !strings.Contains(leaf.Issuer.CommonName, "Pebble") || got.ID.Version() != first.Version {
		t.Errorf("vault certificate: names %v, issuer %q, version %s (service: %s)", leaf.DNSNames, leaf.Issuer.CommonName, got.ID.Version(), first.Version)
	}

	// The secret is rotated at the authority; the service still has the old one.
	sv.entra.setSecret("rotated-" + spSecret)
	time.Sleep(2500 * time.Millisecond)
	st, err := svc.Renew(ctx, "sp-example-test")
	if err == nil {
		t.Fatal("a renewal with a rotated secret succeeded")
	}
	t.Logf("renewal with a rotated secret: %v", err)
	if !errors.Is(err, renew.ErrVault) || !strings.Contains(err.Error(), "invalid_client") || !strings.Contains(err.Error(), "client_secret_file") {
		t.Errorf("renewal error: %v", err)
	}
	after := managedStatus(t, sv.st, "sp-example-test")
	if after.Version != first.Version || after.Issued != 1 || !strings.Contains(after.LastError, "check renew.vault_auth.tenant_id, client_id, and the secret in client_secret_file") || st.LastError != after.LastError {
		t.Errorf("after the failed renewal: %+v", after)
	}

	// The application's certificate instead of the secret: the next certificate.
	certFile, cert := writeClientCert(t)
	sv.entra.mu.Lock()
	sv.entra.cert = cert
	sv.entra.mu.Unlock()
	cfg.Renew.VaultAuth.ClientSecretFile, cfg.Renew.VaultAuth.ClientCertificateFile = "", certFile
	cfg.Renew.Certificates = append(cfg.Renew.Certificates, config.CertificateConfig{DNSNames: []string{"cert.example.test"}, DNSProvider: "test-dns"})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := startRenew(ctx, cfg, sv.st, sv.url, noIMDS, sv.caFile, time.Now, testLog(t)); err != nil {
		t.Fatalf("start with a client certificate: %v", err)
	}
	if s := managedStatus(t, sv.st, "cert-example-test"); s.Issued != 1 || s.LastError != "" {
		t.Errorf("issued with the certificate credential: %+v", s)
	}
	if grants, _ := sv.entra.counts(); !slices.Contains(grants, "certificate") {
		t.Errorf("no token was issued for the certificate: %v", grants)
	}
}

func managedStatus(t *testing.T, st store.Store, name string) renew.Status {
	t.Helper()
	list, err := renew.Stored(context.Background(), st, schedule.DefaultPolicy(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("%s is not managed: %+v", name, list)
	return renew.Status{}
}

func vaultTestClient(t testing.TB, caFile string) *http.Client {
	t.Helper()
	b, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b)
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}
