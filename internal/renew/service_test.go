package renew

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tegata-project/tegata/internal/certkit"
	"github.com/tegata-project/tegata/internal/pki"
	"github.com/tegata-project/tegata/internal/renew/acme"
	"github.com/tegata-project/tegata/internal/renew/dnsprov"
	"github.com/tegata-project/tegata/internal/renew/schedule"
	"github.com/tegata-project/tegata/internal/store"
	"github.com/tegata-project/tegata/internal/store/sqlite"
	"github.com/tegata-project/tegata/internal/testenv"
	"github.com/tegata-project/tegata/internal/vault"
	"github.com/tegata-project/tegata/internal/vault/auth"
)

func TestMain(m *testing.M) {
	os.Setenv("LEGO_DISABLE_CNAME_SUPPORT", "true")
	acme.SetLogger(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

const testTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// testVault is tegata's vault, in process, over TLS, with a token minter for
// an administrator.
type testVault struct {
	url  string
	cred azcore.TokenCredential
	opts azcore.ClientOptions
	st   store.Store
	down atomic.Bool // when set, the vault answers 503 to everything
}

type minter struct{ key *rsa.PrivateKey }

func (m minter) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := m.mint("00000000-0000-0000-0000-0000000000aa")
	return azcore.AccessToken{Token: tok, ExpiresOn: time.Now().Add(time.Hour)}, err
}

func (m minter) mint(oid string) (string, error) {
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: m.key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	return jwt.Signed(signer).Claims(map[string]any{
		"aud": "https://vault.test.example", "iss": "https://sts.windows.net/" + testTenant + "/", "tid": testTenant,
		"oid": oid, "exp": time.Now().Add(time.Hour).Unix(), "nbf": time.Now().Add(-time.Minute).Unix(),
	}).Serialize()
}

func mintFor(t *testing.T, m minter, oid string) string {
	t.Helper()
	tok, err := m.mint(oid)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func startTestVault(t testing.TB) *testVault {
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
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	validator, err := auth.NewValidator(auth.Options{Issuer: "https://sts.windows.net/" + testTenant + "/", Tenant: testTenant, Resources: []string{"https://vault.test.example"},
		Keys: auth.StaticKeys(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutAssignment(context.Background(), store.Assignment{ID: "a1", Vault: "kv1", Principal: "00000000-0000-0000-0000-0000000000aa", RoleID: "00482a5a-887f-4fb3-b363-3b7fe8e74483", Scope: "/", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(context.Background(), vault.Options{Name: "kv1", Domain: "vault.test.example", Authority: "https://login.microsoftonline.com/" + testTenant,
		Tokens: validator, Store: st, Sealer: sealer, RecoverableDays: 7, ReadCache: true})
	if err != nil {
		t.Fatal(err)
	}
	cert, ca, err := pki.LocalTLS(dir, master, []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tv := &testVault{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tv.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		v.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(func() { srv.Close(); v.Close() })
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	tv.url, tv.cred, tv.opts, tv.st = srv.URL, minter{key}, azcore.ClientOptions{Transport: client, Retry: policy.RetryOptions{MaxRetries: -1}}, st
	return tv
}

// newTestService is a renewal service for the test vault, issuing from Pebble by
// DNS-01 through challtestsrv.
func newTestService(t testing.TB, peb *testenv.Pebble, tv *testVault, clock func() time.Time) *Service {
	t.Helper()
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	client, err := acme.NewClient(ctx, acme.Config{DirectoryURL: peb.DirectoryURL, Account: acme.Account{Key: key}, HTTPClient: peb.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	prov, err := dnsprov.New("challtestsrv", map[string]string{"url": peb.ChallTestSrvURL})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := NewVault(tv.url, tv.cred, tv.opts, true)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{
		Instance: "test", Vault: kv, ACME: client, DNS: map[string]dnsprov.Provider{"test-dns": prov},
		DNS01: acme.DNS01{Resolvers: []string{peb.DNSAddr}, PropagationTimeout: 5 * time.Second, PollingInterval: 100 * time.Millisecond},
		Store: tv.st, Clock: clock, Sleep: func(context.Context, time.Duration) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestIssueAndRenewIntoVault: a SAN + wildcard certificate is issued from Pebble
// into tegata's vault with the key generated in the vault; the secret behind it is
// a working key pair; a renewal replaces it with a new version (ARI replaces),
// tagged for adoption.
func TestIssueAndRenewIntoVault(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	now := time.Now()
	clock := func() time.Time { return now }
	s := newTestService(t, peb, tv, clock)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	st, err := s.Add(ctx, Definition{DNSNames: []string{"example.test", "*.example.test"}, DNSProvider: "test-dns"})
	if err != nil {
		t.Fatalf("first issue: %v", err)
	}
	if st.Name != "example-test" || st.Version == "" || st.Issued != 1 || st.NotAfter.IsZero() {
		t.Fatalf("status after issue: %+v", st)
	}
	secrets, _ := azsecrets.NewClient(tv.url, tv.cred, &azsecrets.ClientOptions{ClientOptions: tv.opts, DisableChallengeResourceVerification: true})
	sec, err := secrets.GetSecret(ctx, "example-test", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	mat, err := certkit.ParseImport([]byte(*sec.Value), "", *sec.ContentType, false)
	if err != nil {
		t.Fatalf("the certificate's secret is not a key pair: %v", err)
	}
	leaf := mat.Chain[0]
	if len(mat.Chain) < 2 || !strings.Contains(strings.Join(leaf.DNSNames, ","), "*.example.test") {
		t.Errorf("issued chain of %d, names %v", len(mat.Chain), leaf.DNSNames)
	}
	inter := x509.NewCertPool()
	for _, c := range mat.Chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: peb.Roots, Intermediates: inter, DNSName: "www.example.test"}); err != nil {
		t.Errorf("the issued certificate does not chain to Pebble's root: %v", err)
	}
	cur, err := s.o.Vault.current(ctx, "example-test")
	if err != nil || cur == nil {
		t.Fatal(err)
	}
	ad, ok := ReadTags(cur.Tags)
	if !ok || ad.By != "tegata" || ad.CertID == "" {
		t.Errorf("tags %v: want the tegata tag with the ARI CertID", cur.Tags)
	}

	// Nothing is due right after issuance.
	if n, err := s.Pass(ctx); err != nil || n != 0 {
		t.Errorf("a pass right after issuance started %d renewals (%v)", n, err)
	}
	// Two thirds into the lifetime it is.
	now = st.NotBefore.Add(st.NotAfter.Sub(st.NotBefore) * 3 / 4)
	if n, err := s.Pass(ctx); err != nil || n != 1 {
		t.Fatalf("a pass at 3/4 of the lifetime started %d renewals (%v)", n, err)
	}
	list, _ := s.List(ctx)
	if len(list) != 1 || list[0].Issued != 2 || list[0].Version == st.Version || list[0].Serial == st.Serial || list[0].LastError != "" {
		t.Fatalf("after the renewal: %+v (before: %+v)", list, st)
	}
	cur2, _ := s.o.Vault.current(ctx, "example-test")
	if cur2.Version == cur.Version {
		t.Error("the vault holds no new version after the renewal")
	}
}

// TestFailedRenewalKeepsCertificate: with DNS answering SERVFAIL, a renewal fails,
// is recorded with its class and backoff, and the vault's current version stays;
// once DNS is back, the next attempt succeeds.
func TestFailedRenewalKeepsCertificate(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	now := time.Now()
	s := newTestService(t, peb, tv, func() time.Time { return now })
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	st, err := s.Add(ctx, Definition{Name: "web", DNSNames: []string{"web.example.test"}, DNSProvider: "test-dns"})
	if err != nil {
		t.Fatal(err)
	}
	peb.SetServfail(t, "_acme-challenge.web.example.test")
	_, err = s.Renew(ctx, "web")
	if err == nil {
		t.Fatal("renewal with DNS failing succeeded")
	}
	r, _ := s.load(ctx, "web")
	if r.State.Last.Class != schedule.DNS || r.LastError == "" || r.Version != st.Version {
		t.Errorf("after the failure: class %q, error %q, version %s (was %s)", r.State.Last.Class, r.LastError, r.Version, st.Version)
	}
	cur, _ := s.o.Vault.current(ctx, "web")
	if cur == nil || cur.Version != st.Version {
		t.Fatalf("the vault's current version changed after a failed renewal")
	}
	peb.ClearServfail(t, "_acme-challenge.web.example.test")
	if _, err := s.Renew(ctx, "web"); err != nil {
		t.Fatalf("renewal after DNS recovered: %v", err)
	}
	r, _ = s.load(ctx, "web")
	if r.LastError != "" || r.Version == st.Version || r.Issued != 2 {
		t.Errorf("after recovery: %+v", r)
	}
}

// TestReplicasRenewOnce: two services sharing one store (as replicas share
// PostgreSQL) pass over the same due certificate at once, and it is renewed once; a
// lease left by a dead replica holds the certificate until it expires, then another
// replica renews it.
func TestReplicasRenewOnce(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a := newTestService(t, peb, tv, clock)
	b := newTestService(t, peb, tv, clock)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	st, err := a.Add(ctx, Definition{Name: "shared", DNSNames: []string{"shared.example.test"}, DNSProvider: "test-dns"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = st.NotBefore.Add(st.NotAfter.Sub(st.NotBefore) * 3 / 4)
	mu.Unlock()
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, s := range []*Service{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); counts[i], _ = s.Pass(ctx) }()
	}
	wg.Wait()
	r, _ := a.load(ctx, "shared")
	if r.Issued != 2 || counts[0]+counts[1] != 1 {
		t.Fatalf("two replicas at once: issued %d times (passes started %v), want once more", r.Issued, counts)
	}

	// A replica died holding the lease, when the certificate was due again.
	mu.Lock()
	now = r.State.NotBefore.Add(r.State.NotAfter.Sub(r.State.NotBefore) * 3 / 4)
	mu.Unlock()
	meta, _ := json.Marshal(lease{Owner: "dead/0", Until: clock().Add(leaseTTL)})
	if err := tv.st.Update(ctx, func(tx store.Tx) error {
		return tx.PutObject(ctx, store.Object{ObjectKey: leaseKey("shared"), Meta: meta, Updated: clock()})
	}); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.Pass(ctx); n != 0 {
		t.Errorf("a pass renewed under another replica's live lease")
	}
	mu.Lock()
	now = now.Add(leaseTTL + time.Minute)
	mu.Unlock()
	if n, _ := b.Pass(ctx); n != 1 {
		t.Errorf("after the dead replica's lease expired, the pass started %d renewals, want 1", n)
	}
	if r, _ := b.load(ctx, "shared"); r.Issued != 3 {
		t.Errorf("issued %d times, want 3", r.Issued)
	}
}

// TestRenewalFaults: with the vault down, a renewal fails as a vault error and the
// record keeps its version; an order interrupted after the vault made its CSR (a
// crash) is resumed with that CSR; with the CA down, the failure is classed
// caUnavailable and the current certificate stays.
func TestRenewalFaults(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	s := newTestService(t, peb, tv, time.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	st, err := s.Add(ctx, Definition{Name: "faulty", DNSNames: []string{"faulty.example.test"}, DNSProvider: "test-dns"})
	if err != nil {
		t.Fatal(err)
	}

	tv.down.Store(true)
	if _, err := s.Renew(ctx, "faulty"); !errors.Is(err, ErrVault) {
		t.Errorf("renewal with the vault down: %v, want a vault error", err)
	}
	r, _ := s.load(ctx, "faulty")
	if r.State.Last.Class != schedule.Vault || r.Version != st.Version {
		t.Errorf("after the vault was down: class %q, version %s (was %s)", r.State.Last.Class, r.Version, st.Version)
	}
	tv.down.Store(false)

	// A crash after the vault made the CSR leaves a pending operation: the next
	// attempt takes its CSR (the vault answers 409 to a new create) and completes it.
	csr, err := s.o.Vault.beginCSR(ctx, &r.Definition)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Renew(ctx, "faulty")
	if err != nil {
		t.Fatalf("renewal over a leftover pending operation: %v", err)
	}
	cur, _ := s.o.Vault.current(ctx, "faulty")
	want, _ := x509.ParseCertificateRequest(csr)
	if got.Version == st.Version || cur == nil || !cur.Leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(want.PublicKey) {
		t.Errorf("the leftover operation's key was not the one certified")
	}

	peb.StopCA()
	if _, err := s.Renew(ctx, "faulty"); err == nil {
		t.Fatal("renewal with the CA down succeeded")
	}
	r, _ = s.load(ctx, "faulty")
	if r.State.Last.Class != schedule.CAUnavailable || r.Version != got.Version || r.LastError == "" {
		t.Errorf("after the CA was down: class %q, version %s (was %s), error %q", r.State.Last.Class, r.Version, got.Version, r.LastError)
	}
	if cur2, _ := s.o.Vault.current(ctx, "faulty"); cur2 == nil || cur2.Version != got.Version {
		t.Error("the vault's current version changed after a failed renewal")
	}
}
