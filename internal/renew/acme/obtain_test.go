package acme

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/testenv"
)

// Apex and wildcard are two authorizations for one name, so their two
// values must sit in one TXT RRset at the same time (B.6.3).
func TestObtainSANAndWildcardByDNS01(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	c := newClient(t, p, nil)
	prov := challTestSrv(t, p)

	names := []string{"tegata.test", "*.tegata.test", "www.tegata.test"}
	cert, err := c.Obtain(testCtx(t), Order{Names: names, Profile: "default", Solver: dns01For(p, prov)})
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	verifyChain(t, p, cert, names...)
	if cert.Key == nil {
		t.Fatal("no generated key")
	}
	if !publicKeysEqual(cert.Key.Public(), cert.Chain[0].PublicKey) {
		t.Error("the returned key is not the leaf's")
	}
	if cert.CertURL == "" {
		t.Error("no CertURL")
	}

	apex := "_acme-challenge.tegata.test."
	prov.mu.Lock()
	seen := prov.served[apex]
	prov.mu.Unlock()
	both := false
	for _, vals := range seen {
		both = both || len(vals) == 2 && vals[0] != vals[1]
	}
	if !both {
		t.Errorf("the apex and wildcard values were never served together at %s; served after each write: %q", apex, seen)
	}
	if got := txtValues(p.DNSAddr, apex); len(got) != 0 {
		t.Errorf("challenge records left after the order: %q", got)
	}
}

func TestObtainByHTTP01(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	c := newClient(t, p, nil)
	cert, err := c.Obtain(testCtx(t), Order{
		Names: []string{"web.tegata.test"}, Profile: "default", KeyType: KeyRSA2048,
		Solver: HTTP01{Address: fmt.Sprintf("127.0.0.1:%d", p.HTTPPort)},
	})
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	verifyChain(t, p, cert, "web.tegata.test")
	if cert.Chain[0].PublicKeyAlgorithm != x509.RSA {
		t.Errorf("leaf key is %v, want RSA", cert.Chain[0].PublicKeyAlgorithm)
	}
}

func TestExternalAccountBinding(t *testing.T) {
	t.Parallel()
	mac := make([]byte, 32)
	rand.Read(mac)
	p := testenv.StartPebble(t, testenv.PebbleOptions{
		EABKeys: map[string]string{"kid-1": base64.RawURLEncoding.EncodeToString(mac)},
	})
	newCfg := func(eab *EAB) Config {
		return Config{DirectoryURL: p.DirectoryURL, HTTPClient: p.HTTPClient(), EAB: eab,
			Account: Account{Key: newAccountKey(t)}}
	}

	_, err := NewClient(testCtx(t), newCfg(nil))
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "externalAccountRequired") {
		t.Errorf("registration without EAB: got %v, want ErrUnauthorized (externalAccountRequired)", err)
	}
	wrong := make([]byte, 32)
	_, err = NewClient(testCtx(t), newCfg(&EAB{KeyID: "kid-1", HMACBase64: base64.RawURLEncoding.EncodeToString(wrong)}))
	if err == nil {
		t.Error("registration with a wrong MAC key succeeded")
	}

	// Standard base64 with padding, as some CAs hand keys out, works too.
	c, err := NewClient(testCtx(t), newCfg(&EAB{KeyID: "kid-1", HMACBase64: base64.StdEncoding.EncodeToString(mac)}))
	if err != nil {
		t.Fatalf("registration with EAB: %v", err)
	}
	if !c.Directory().ExternalAccountRequired {
		t.Error("Directory().ExternalAccountRequired is false")
	}
	if c.Account().URI == "" {
		t.Fatal("no account URI")
	}
	// The persisted account works without registering again.
	again, err := NewClient(testCtx(t), Config{DirectoryURL: p.DirectoryURL, HTTPClient: p.HTTPClient(), Account: c.Account()})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := again.Obtain(testCtx(t), Order{Names: []string{"eab.tegata.test"}, Profile: "default",
		Solver: dns01For(p, challTestSrv(t, p))})
	if err != nil {
		t.Fatalf("Obtain with the bound account: %v", err)
	}
	verifyChain(t, p, cert, "eab.tegata.test")
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	c := newClient(t, p, nil)
	if got := c.Directory().Profiles; len(got) != 2 || got["shortlived"] == "" {
		t.Fatalf("Directory().Profiles = %v, want default and shortlived", got)
	}
	prov := challTestSrv(t, p)
	for profile, want := range map[string]time.Duration{"shortlived": 6 * 24 * time.Hour, "default": 90 * 24 * time.Hour} {
		cert, err := c.Obtain(testCtx(t), Order{Names: []string{profile + ".tegata.test"}, Profile: profile,
			Solver: dns01For(p, prov)})
		if err != nil {
			t.Fatalf("Obtain %s: %v", profile, err)
		}
		leaf := cert.Chain[0]
		// Pebble's notAfter is inclusive: validity = notAfter - notBefore + 1s.
		if got := leaf.NotAfter.Sub(leaf.NotBefore) + time.Second; got != want {
			t.Errorf("profile %s: validity %v, want %v", profile, got, want)
		}
	}
	_, err := c.Obtain(testCtx(t), Order{Names: []string{"x.tegata.test"}, Profile: "nope", Solver: dns01For(p, prov)})
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "default, shortlived") {
		t.Errorf("unknown profile: got %v, want ErrMalformed listing the offered profiles", err)
	}
}

// watchedSigner fails the test if it signs after being armed: the key
// must not be used (nor handed to lego) once the CSR exists.
type watchedSigner struct {
	crypto.Signer
	armed, used atomic.Bool
}

func (w *watchedSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if w.armed.Load() {
		w.used.Store(true)
	}
	return w.Signer.Sign(r, digest, opts)
}

func TestObtainWithCSR(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	c := newClient(t, p, nil)
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := &watchedSigner{Signer: k}
	names := []string{"vault.tegata.test", "alt.tegata.test"}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	key.armed.Store(true)

	cert, err := c.Obtain(testCtx(t), Order{CSR: csr, Profile: "default", Solver: dns01For(p, challTestSrv(t, p))})
	if err != nil {
		t.Fatalf("Obtain with a CSR: %v", err)
	}
	verifyChain(t, p, cert, names...)
	if cert.Key != nil {
		t.Error("Obtain returned a key for a CSR order")
	}
	if !publicKeysEqual(cert.Chain[0].PublicKey, k.Public()) {
		t.Error("the leaf's key is not the CSR's")
	}
	if key.used.Load() {
		t.Error("the CSR's private key signed something after the CSR was made")
	}

	_, err = c.Obtain(testCtx(t), Order{Names: []string{"other.tegata.test"}, CSR: csr, Solver: dns01For(p, challTestSrv(t, p))})
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("names differing from the CSR's: got %v, want ErrMalformed", err)
	}
	_, err = c.Obtain(testCtx(t), Order{CSR: []byte("junk"), Solver: dns01For(p, challTestSrv(t, p))})
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("junk CSR: got %v, want ErrMalformed", err)
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ax, err1 := x509.MarshalPKIXPublicKey(a)
	bx, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(ax, bx)
}

func TestPreferredChain(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{AlternateRoots: 1})
	c := newClient(t, p, nil)
	prov := challTestSrv(t, p)
	var roots []string
	for rest := p.RootsPEM; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		root, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, root.Subject.CommonName)
	}
	if len(roots) != 2 {
		t.Fatalf("Pebble roots %v, want 2", roots)
	}
	for _, want := range roots {
		cert, err := c.Obtain(testCtx(t), Order{Names: []string{"chain.tegata.test"}, Profile: "default",
			PreferredChain: want, Solver: dns01For(p, prov)})
		if err != nil {
			t.Fatalf("Obtain preferring %q: %v", want, err)
		}
		top := cert.Chain[len(cert.Chain)-1]
		if top.Issuer.CommonName != want {
			t.Errorf("preferring %q: chain ends with a certificate issued by %q", want, top.Issuer.CommonName)
		}
	}
}
