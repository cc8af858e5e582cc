package acme

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tegata-project/tegata/internal/renew/dnsprov"
	"github.com/tegata-project/tegata/internal/testenv"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// lego's dns-01 code follows CNAMEs at the challenge name with the
	// system's resolvers before each check; our solver does that itself
	// with the order's resolvers (challtestsrv here), so spare the tests
	// lookups of *.test names on the machine's resolver.
	os.Setenv("LEGO_DISABLE_CNAME_SUPPORT", "true")
	if !testing.Verbose() {
		SetLogger(slog.New(slog.DiscardHandler))
	}
	os.Exit(m.Run())
}

// testCtx bounds one test's ACME calls.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newAccountKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// countingTransport counts POSTs to newOrder.
type countingTransport struct {
	base      http.RoundTripper
	newOrders atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/order-plz") {
		c.newOrders.Add(1)
	}
	return c.base.RoundTrip(r)
}

// newClient registers a new account at p.
func newClient(t *testing.T, p *testenv.Pebble, eab *EAB) *Client {
	t.Helper()
	c, _ := newCountingClient(t, p, eab)
	return c
}

func newCountingClient(t *testing.T, p *testenv.Pebble, eab *EAB) (*Client, *countingTransport) {
	t.Helper()
	hc := p.HTTPClient()
	ct := &countingTransport{base: hc.Transport}
	hc.Transport = ct
	c, err := NewClient(testCtx(t), Config{
		DirectoryURL: p.DirectoryURL, HTTPClient: hc, EAB: eab, UserAgent: "tegata-test",
		Account: Account{Email: "ops@tegata.test", Key: newAccountKey(t)},
	})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if c.Account().URI == "" {
		t.Fatal("NewClient registered no account URI")
	}
	return c, ct
}

// challTestSrv returns a challtestsrv provider for p, wrapped so tests
// see every record written.
func challTestSrv(t *testing.T, p *testenv.Pebble) *recordingProvider {
	t.Helper()
	prov, err := dnsprov.New("challtestsrv", map[string]string{"url": p.ChallTestSrvURL})
	if err != nil {
		t.Fatal(err)
	}
	return &recordingProvider{RecordProvider: prov.(dnsprov.RecordProvider), dnsAddr: p.DNSAddr}
}

// recordingProvider records the names written and, after each write, the
// TXT values the DNS server serves at that name.
type recordingProvider struct {
	dnsprov.RecordProvider
	dnsAddr string

	mu      sync.Mutex
	written []string
	served  map[string][][]string // name -> TXT values seen after each write
}

func (r *recordingProvider) PresentRecord(ctx context.Context, fqdn, value string) error {
	if err := r.RecordProvider.PresentRecord(ctx, fqdn, value); err != nil {
		return err
	}
	vals := txtValues(r.dnsAddr, fqdn)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.written = append(r.written, fqdn)
	if r.served == nil {
		r.served = map[string][][]string{}
	}
	r.served[fqdn] = append(r.served[fqdn], vals)
	return nil
}

func (r *recordingProvider) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.written)
}

func txtValues(server, name string) []string {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	resp, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, server)
	if err != nil {
		return nil
	}
	var out []string
	for _, rr := range resp.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	return out
}

// dns01For is the DNS-01 solver the tests use: records checked on the
// challtestsrv, polled quickly.
func dns01For(p *testenv.Pebble, prov dnsprov.Provider) DNS01 {
	return DNS01{
		Provider: prov, Resolvers: []string{p.DNSAddr},
		PropagationTimeout: 20 * time.Second, PollingInterval: 100 * time.Millisecond,
	}
}

// verifyChain checks that cert chains to one of p's roots and covers names.
func verifyChain(t *testing.T, p *testenv.Pebble, cert *Certificate, names ...string) {
	t.Helper()
	if len(cert.Chain) < 2 {
		t.Fatalf("chain has %d certificates, want the leaf and at least one issuer", len(cert.Chain))
	}
	inter := x509.NewCertPool()
	for _, c := range cert.Chain[1:] {
		inter.AddCert(c)
	}
	leaf := cert.Chain[0]
	for _, n := range names {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: n, Roots: p.Roots, Intermediates: inter}); err != nil {
			t.Errorf("leaf does not verify for %s: %v", n, err)
		}
	}
	if !slices.Equal(sortedCopy(leaf.DNSNames), sortedCopy(names)) {
		t.Errorf("leaf names %v, want %v", leaf.DNSNames, names)
	}
	if !strings.HasPrefix(string(cert.PEM), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("PEM does not start with a certificate: %.40q", cert.PEM)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
