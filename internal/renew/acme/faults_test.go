package acme

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/testenv"
)

func TestDNSServfail(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	c := newClient(t, p, nil)
	prov := challTestSrv(t, p)
	p.SetServfail(t, "_acme-challenge.broken.tegata.test")

	// Our propagation check meets the SERVFAIL.
	s := dns01For(p, prov)
	s.PropagationTimeout = 2 * time.Second
	_, err := c.Obtain(testCtx(t), Order{Names: []string{"broken.tegata.test"}, Profile: "default", Solver: s})
	var pe *PropagationError
	if !errors.Is(err, ErrDNS) || !errors.As(err, &pe) || !strings.Contains(err.Error(), "SERVFAIL") {
		t.Errorf("SERVFAIL seen by the propagation check: got %v, want ErrDNS naming SERVFAIL", err)
	}
	if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrCAUnavailable) {
		t.Errorf("error matches more than one class: %v", err)
	}

	// The CA meets it. Pebble reports a failed DNS lookup as
	// "unauthorized", not "dns" as Let's Encrypt does, so this is
	// ErrUnauthorized here (TestClassify covers the dns type).
	s.SkipPropagationCheck = true
	_, err = c.Obtain(testCtx(t), Order{Names: []string{"broken.tegata.test"}, Profile: "default", Solver: s})
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "unsuccessful response") {
		t.Errorf("SERVFAIL seen by Pebble: got %v, want ErrUnauthorized (Pebble's classification)", err)
	}
	var ae *Error
	if !errors.As(err, &ae) || ae.Problem != "urn:ietf:params:acme:error:unauthorized" {
		t.Errorf("Error.Problem not set from the CA's problem: %+v", ae)
	}
}

func TestCAUnavailable(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	c := newClient(t, p, nil)
	prov := challTestSrv(t, p)
	p.StopCA()
	_, err := c.Obtain(testCtx(t), Order{Names: []string{"down.tegata.test"}, Profile: "default", Solver: dns01For(p, prov)})
	if !errors.Is(err, ErrCAUnavailable) {
		t.Errorf("Obtain with the CA stopped: got %v, want ErrCAUnavailable", err)
	}
	_, err = c.RenewalInfo(testCtx(t), nil, nil)
	if err == nil {
		t.Error("RenewalInfo(nil) succeeded")
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	_, err = NewClient(testCtx(t), Config{DirectoryURL: "https://" + dead + "/dir", Account: Account{Key: newAccountKey(t)}})
	if !errors.Is(err, ErrCAUnavailable) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("NewClient on a dead port: got %v, want ErrCAUnavailable (connection refused)", err)
	}

	// A 5xx without a problem document.
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream gone", http.StatusBadGateway)
	}))
	defer ts.Close()
	_, err = NewClient(testCtx(t), Config{DirectoryURL: ts.URL + "/dir", HTTPClient: ts.Client(), Account: Account{Key: newAccountKey(t)}})
	if !errors.Is(err, ErrCAUnavailable) || !strings.Contains(err.Error(), "502") {
		t.Errorf("NewClient on a 502: got %v, want ErrCAUnavailable", err)
	}
}

// challtestsrv answers _acme-challenge.<name> with a CNAME to
// _acme-challenge.<delegated> (one level): the record is written there.
func TestCNAMEDelegation(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	c := newClient(t, p, nil)

	p.SetCNAME(t, "_acme-challenge.cname.tegata.test", "_acme-challenge.delegated.tegata.test")
	prov := challTestSrv(t, p)
	cert, err := c.Obtain(testCtx(t), Order{Names: []string{"cname.tegata.test"}, Profile: "default", Solver: dns01For(p, prov)})
	if err != nil {
		t.Fatalf("Obtain through a CNAME: %v", err)
	}
	verifyChain(t, p, cert, "cname.tegata.test")
	if got := prov.names(); !slices.Equal(got, []string{"_acme-challenge.delegated.tegata.test."}) {
		t.Errorf("records written at %q, want the CNAME's target", got)
	}

	// An explicit alias, with CNAME following off.
	p.SetCNAME(t, "_acme-challenge.aliased.tegata.test", "_acme-challenge.alias.tegata.test")
	prov = challTestSrv(t, p)
	s := dns01For(p, prov)
	s.Alias, s.DisableCNAME = "alias.tegata.test", true
	if _, err := c.Obtain(testCtx(t), Order{Names: []string{"aliased.tegata.test"}, Profile: "default", Solver: s}); err != nil {
		t.Fatalf("Obtain with an alias: %v", err)
	}
	if got := prov.names(); !slices.Equal(got, []string{"_acme-challenge.alias.tegata.test."}) {
		t.Errorf("records written at %q, want the alias", got)
	}

	// Without the CNAME in DNS, DisableCNAME writes at the name itself and
	// validation of an alias-less order works as usual.
	prov = challTestSrv(t, p)
	s = dns01For(p, prov)
	s.DisableCNAME = true
	if _, err := c.Obtain(testCtx(t), Order{Names: []string{"plain.tegata.test"}, Profile: "default", Solver: s}); err != nil {
		t.Fatalf("Obtain with CNAME following off: %v", err)
	}
	if got := prov.names(); !slices.Equal(got, []string{"_acme-challenge.plain.tegata.test."}) {
		t.Errorf("records written at %q", got)
	}
}

// A canceled order stops waiting for propagation, and its records are
// cleaned up all the same.
func TestObtainCanceled(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	c := newClient(t, p, nil)
	prov := challTestSrv(t, p)
	s := dns01For(p, prov)
	s.Resolvers = []string{deadUDPAddr(t)} // the record never shows
	s.PropagationTimeout = time.Minute
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := c.Obtain(ctx, Order{Names: []string{"slow.tegata.test"}, Profile: "default", Solver: s})
		done <- err
	}()
	for len(prov.names()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	name := prov.names()[0]
	if got := txtValues(p.DNSAddr, name); len(got) != 1 {
		t.Fatalf("record at %s: %q, want one value", name, got)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled Obtain: got %v, want context.Canceled", err)
	}
	if got := txtValues(p.DNSAddr, name); len(got) != 0 {
		t.Errorf("records left after cancellation: %q", got)
	}
}

// deadUDPAddr is a loopback UDP address nothing listens on.
func deadUDPAddr(t *testing.T) string {
	t.Helper()
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.LocalAddr().String()
	l.Close()
	return addr
}
