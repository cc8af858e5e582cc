package vault_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tegata-project/tegata/internal/pki"
	"github.com/tegata-project/tegata/internal/store"
	"github.com/tegata-project/tegata/internal/store/sqlite"
	"github.com/tegata-project/tegata/internal/vault"
	"github.com/tegata-project/tegata/internal/vault/auth"
)

const (
	tenant    = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	issuer    = "https://sts.windows.net/" + tenant + "/"
	domain    = "vault.test.example"
	resource  = "https://" + domain
	vaultURL  = "https://kv1." + domain
	adminOID  = "11111111-1111-1111-1111-111111111111"
	roleAdmin = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
)

var (
	signingKeyOnce sync.Once
	signingKey     *rsa.PrivateKey
	otherKey       *rsa.PrivateKey
)

func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	signingKeyOnce.Do(func() {
		var err error
		if signingKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if otherKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return signingKey, otherKey
}

// claims are the token fields a test may vary.
type claims struct {
	oid, aud, iss, tid string
	exp                time.Time
	key                *rsa.PrivateKey
}

// harness is a vault served over TLS at kv1.vault.test.example (dialled to the
// test server), with tokens minted by a test issuer whose JWKS the vault trusts.
type harness struct {
	t        testing.TB
	srv      *httptest.Server
	v        *vault.Vault
	st       store.Store
	dbPath   string
	requests atomic.Int64
	client   *http.Client
	opts     vault.Options
	master   pki.MasterKey
}

type harnessOptions struct {
	store           func(t testing.TB) (store.Store, string)
	purgeProtection bool
	recoverableDays int
	noCache         bool
}

func sqliteStore(t testing.TB) (store.Store, string) {
	path := filepath.Join(t.TempDir(), "vault.db")
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return st, path
}

func newHarness(t testing.TB, ho harnessOptions) *harness {
	t.Helper()
	if ho.store == nil {
		ho.store = sqliteStore
	}
	if ho.recoverableDays == 0 {
		ho.recoverableDays = 90
	}
	sk, _ := keys(t)
	st, path := ho.store(t)
	t.Cleanup(func() { st.Close() })
	raw := make([]byte, 32)
	rand.Read(raw)
	master, err := pki.NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := vault.NewSealer(master)
	if err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &sk.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}}
	validator, err := auth.NewValidator(auth.Options{Issuer: issuer, Tenant: tenant, Resources: []string{resource}, Keys: auth.StaticKeys(set)})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, dbPath: path, master: master}
	h.opts = vault.Options{
		Name: "kv1", Domain: domain, Vaults: []string{"kv2"}, Authority: auth.TenantAuthority("https://login.microsoftonline.com", tenant),
		Tokens: validator, Store: st, Sealer: sealer, RecoverableDays: ho.recoverableDays, PurgeProtection: ho.purgeProtection,
		ReadCache: !ho.noCache,
	}
	h.v, err = vault.New(context.Background(), h.opts)
	if err != nil {
		t.Fatal(err)
	}
	h.grant(adminOID, roleAdmin, "/")
	tempDir := t.TempDir()
	cert, ca, err := pki.LocalTLS(tempDir, master, []string{"*." + domain, "127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.requests.Add(1)
		h.v.ServeHTTP(w, r)
	}))
	h.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	h.srv.StartTLS()
	t.Cleanup(func() {
		h.srv.Close()
		h.v.Close()
	})
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	addr := h.srv.Listener.Addr().String()
	h.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	return h
}

func (h *harness) grant(oid, role, scope string) { h.grantIn("kv1", oid, role, scope) }

func (h *harness) grantIn(vaultName, oid, role, scope string) {
	h.t.Helper()
	if err := h.st.PutAssignment(context.Background(), store.Assignment{ID: vault.NewID(), Vault: vaultName, Principal: oid, RoleID: role, Scope: scope, Created: time.Now()}); err != nil {
		h.t.Fatal(err)
	}
	if err := h.v.ReloadAssignments(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

// token mints a token; zero fields take valid defaults.
func (h *harness) token(c claims) string {
	h.t.Helper()
	sk, _ := keys(h.t)
	if c.key == nil {
		c.key = sk
	}
	if c.oid == "" {
		c.oid = adminOID
	}
	if c.aud == "" {
		c.aud = resource
	}
	if c.iss == "" {
		c.iss = issuer
	}
	if c.tid == "" {
		c.tid = tenant
	}
	if c.exp.IsZero() {
		c.exp = time.Now().Add(time.Hour)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: c.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		h.t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(map[string]any{
		"aud": c.aud, "iss": c.iss, "tid": c.tid, "oid": c.oid, "appid": "test-app",
		"iat": time.Now().Add(-time.Minute).Unix(), "nbf": time.Now().Add(-time.Minute).Unix(), "exp": c.exp.Unix(),
	}).Serialize()
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// credential hands the SDK tokens minted for oid.
type credential struct {
	h   *harness
	oid string
}

func (c credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if len(opts.Scopes) != 1 || opts.Scopes[0] != resource+"/.default" {
		c.h.t.Errorf("the SDK asked for scopes %v, want [%s/.default] from the challenge", opts.Scopes, resource)
	}
	if opts.TenantID != tenant {
		c.h.t.Errorf("the SDK asked for tenant %q, want %q from the challenge", opts.TenantID, tenant)
	}
	return azcore.AccessToken{Token: c.h.token(claims{oid: c.oid}), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (h *harness) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{Transport: h.client, Retry: policy.RetryOptions{MaxRetries: -1}}
}

func (h *harness) secrets(oid string) *azsecrets.Client {
	h.t.Helper()
	c, err := azsecrets.NewClient(vaultURL, credential{h, oid}, &azsecrets.ClientOptions{ClientOptions: h.clientOptions()})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) certificates(oid string) *azcertificates.Client {
	h.t.Helper()
	c, err := azcertificates.NewClient(vaultURL, credential{h, oid}, &azcertificates.ClientOptions{ClientOptions: h.clientOptions()})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// do sends a raw request with an optional bearer token.
func (h *harness) do(method, path, token string, body string) (*http.Response, []byte) {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, vaultURL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, b
}
