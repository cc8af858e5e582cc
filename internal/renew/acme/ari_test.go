package acme

import (
	"encoding/pem"
	"errors"
	"testing"

	"github.com/tegata-project/tegata/internal/testenv"
)

func TestRenewalInfoAndReplaces(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	c, counter := newCountingClient(t, p, nil)
	prov := challTestSrv(t, p)
	order := Order{Names: []string{"ari.tegata.test"}, Profile: "shortlived", Solver: dns01For(p, prov)}

	first, err := c.Obtain(testCtx(t), order)
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	leaf, issuer := first.Chain[0], first.Chain[1]
	ri, err := c.RenewalInfo(testCtx(t), leaf, issuer)
	if err != nil {
		t.Fatalf("RenewalInfo: %v", err)
	}
	if !ri.Start.Before(ri.End) || ri.Start.Before(leaf.NotBefore) || ri.End.After(leaf.NotAfter) {
		t.Errorf("window [%v, %v) is not inside the validity [%v, %v]", ri.Start, ri.End, leaf.NotBefore, leaf.NotAfter)
	}
	// Pebble: ideal time notAfter - validity/3, window ±24h: days 3 to 5 of 6.
	lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
	if ri.Start.Before(leaf.NotBefore.Add(lifetime / 3)) {
		t.Errorf("window starts at %v, in the first third of the lifetime", ri.Start)
	}
	if ri.RetryAfter <= 0 {
		t.Errorf("RetryAfter = %v, want Pebble's 6h", ri.RetryAfter)
	}

	id, err := CertID(leaf)
	if err != nil {
		t.Fatal(err)
	}
	before := counter.newOrders.Load()
	order.ReplacesCertID = id
	second, err := c.Obtain(testCtx(t), order)
	if err != nil {
		t.Fatalf("Obtain replacing %s: %v", id, err)
	}
	if second.Replaces != id {
		t.Errorf("Replaces = %q, want %q (the CA accepted the replacement)", second.Replaces, id)
	}
	if n := counter.newOrders.Load() - before; n != 1 {
		t.Errorf("%d newOrder requests for an accepted replacement, want 1", n)
	}

	// Replacing the same certificate again: the CA answers alreadyReplaced,
	// and the order goes through without replaces.
	third, err := c.Obtain(testCtx(t), order)
	if err != nil {
		t.Fatalf("Obtain replacing an already replaced certificate: %v", err)
	}
	if third.Replaces != "" {
		t.Errorf("Replaces = %q after alreadyReplaced, want empty", third.Replaces)
	}

	// A revoked certificate gets an immediate window.
	if err := c.Revoke(testCtx(t), third.Chain[0], ReasonSuperseded); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	ri, err = c.RenewalInfo(testCtx(t), third.Chain[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ri.End.Before(third.Chain[0].NotBefore.Add(lifetime / 3)) {
		t.Errorf("window of a revoked certificate [%v, %v) is not early", ri.Start, ri.End)
	}
	err = c.Revoke(testCtx(t), third.Chain[0], ReasonSuperseded)
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("revoking twice: got %v, want ErrMalformed (alreadyRevoked)", err)
	}

	// A malformed ARI answer is an error, not a zero window.
	p.SetRenewalInfo(t, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: second.Chain[0].Raw}), `{"suggestedWindow":{}}`)
	if ri, err := c.RenewalInfo(testCtx(t), second.Chain[0], nil); err == nil {
		t.Errorf("RenewalInfo accepted an empty window: %+v", ri)
	}
}

// B.5: after an account change the CA refuses to let the new account
// replace the old account's certificate; the order is retried exactly
// once without replaces.
func TestReplacesFallback(t *testing.T) {
	t.Parallel()
	p := testenv.StartPebble(t, testenv.PebbleOptions{})
	prov := challTestSrv(t, p)
	old := newClient(t, p, nil)
	order := Order{Names: []string{"moved.tegata.test"}, Profile: "shortlived", Solver: dns01For(p, prov)}
	prev, err := old.Obtain(testCtx(t), order)
	if err != nil {
		t.Fatal(err)
	}
	id, err := CertID(prev.Chain[0])
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, replaces string }{
		{"another account's certificate", id},   // Pebble: unauthorized
		{"malformed CertID", "not-a-cert-id"},   // Pebble: malformed
		{"unknown issuer", "AAAA.AQIDBAUGBwgJ"}, // Pebble: malformed (no known issuer)
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, counter := newCountingClient(t, p, nil)
			o := order
			o.ReplacesCertID = tc.replaces
			cert, err := c.Obtain(testCtx(t), o)
			if err != nil {
				t.Fatalf("Obtain: %v", err)
			}
			if cert.Replaces != "" {
				t.Errorf("Replaces = %q, want empty after the fallback", cert.Replaces)
			}
			if n := counter.newOrders.Load(); n != 2 {
				t.Errorf("%d newOrder requests, want 2 (one with replaces, one without)", n)
			}
		})
	}
}

func TestCertID(t *testing.T) {
	if _, err := CertID(nil); err == nil {
		t.Error("CertID(nil) succeeded")
	}
}
