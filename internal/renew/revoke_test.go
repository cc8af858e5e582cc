package renew

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/renew/acme"
	"github.com/tegata-project/tegata/internal/testenv"
)

// pebbleCertStatus asks Pebble's management interface what it knows of serial
// (hex): "Valid" or "Revoked", and the reason code of a revocation.
func pebbleCertStatus(t *testing.T, peb *testenv.Pebble, serial string) (string, *uint) {
	t.Helper()
	resp, err := peb.HTTPClient().Get(peb.ManagementURL + "/cert-status-by-serial/" + serial)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Status string
		Reason *uint
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("Pebble's status of serial %s: %s", serial, resp.Status)
	}
	return out.Status, out.Reason
}

// TestRevokeAndDelete: a revocation reaches the CA with its reason, is recorded
// (state, history) without touching the vault's certificate, is refused a second
// time, and ends with the next renewal; a deletion forgets the definition and
// soft-deletes the certificate, which the vault still holds as deleted.
func TestRevokeAndDelete(t *testing.T) {
	peb := testenv.StartPebble(t, testenv.PebbleOptions{})
	tv := startTestVault(t)
	s := newTestService(t, peb, tv, time.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	issued, err := s.Add(ctx, Definition{Name: "rv", DNSNames: []string{"rv.example.test"}, DNSProvider: "test-dns"})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := pebbleCertStatus(t, peb, issued.Serial); st != "Valid" {
		t.Fatalf("before revocation Pebble says %s", st)
	}

	st, err := s.Revoke(ctx, "rv", acme.ReasonKeyCompromise)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if !st.Revoked || st.RevocationReason != "keyCompromise" || st.Serial != issued.Serial || st.LastResult != "revoked" {
		t.Errorf("status after revocation: %+v", st)
	}
	status, reason := pebbleCertStatus(t, peb, issued.Serial)
	if status != "Revoked" || reason == nil || *reason != 1 {
		t.Errorf("Pebble says %s, reason %v; want Revoked, 1 (keyCompromise)", status, reason)
	}
	if cur, _ := s.o.Vault.current(ctx, "rv"); cur == nil || cur.Version != issued.Version {
		t.Error("revocation changed the vault's certificate; it must stay (acmebot #1100)")
	}
	if _, err := s.Revoke(ctx, "rv", acme.ReasonUnspecified); !errors.Is(err, ErrAlreadyRevoked) {
		t.Errorf("second revocation: %v, want ErrAlreadyRevoked", err)
	}
	det, err := s.Get(ctx, "rv")
	if err != nil || len(det.History) != 2 || det.History[0].Action != "issue" || det.History[1].Action != "revoke" || !det.History[1].OK {
		t.Errorf("history after issue and revoke: %+v (%v)", det.History, err)
	}

	renewed, err := s.Renew(ctx, "rv")
	if err != nil {
		t.Fatalf("renewal after revocation: %v", err)
	}
	if renewed.Revoked || renewed.Serial == issued.Serial {
		t.Errorf("after the renewal the status still shows the revoked serial: %+v", renewed)
	}

	if err := s.Delete(ctx, "rv"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.Get(ctx, "rv"); !errors.Is(err, ErrNotManaged) {
		t.Errorf("after deletion Get says %v, want ErrNotManaged", err)
	}
	if cur, err := s.o.Vault.current(ctx, "rv"); cur != nil || err != nil {
		t.Errorf("after deletion the vault still serves the certificate (%v)", err)
	}
	if _, err := s.o.Vault.certs.GetDeletedCertificate(ctx, "rv", nil); err != nil {
		t.Errorf("the deleted certificate is not recoverable from the vault: %v", err)
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Errorf("list after deletion: %+v", list)
	}
	if err := s.Delete(ctx, "rv"); !errors.Is(err, ErrNotManaged) {
		t.Errorf("deleting twice: %v, want ErrNotManaged", err)
	}
	if _, err := s.Revoke(ctx, "nope", 0); !errors.Is(err, ErrNotManaged) {
		t.Errorf("revoking an unknown certificate: %v", err)
	}
}

// TestParseRevocationReason: names (any case) and codes of the reasons CAs
// accept; others are refused with the list.
func TestParseRevocationReason(t *testing.T) {
	for in, want := range map[string]acme.RevocationReason{"": 0, "keyCompromise": 1, "KEYCOMPROMISE": 1, "4": 4, "cessationOfOperation": 5} {
		if got, err := ParseRevocationReason(in); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"2", "caCompromise", "7", "x"} {
		if _, err := ParseRevocationReason(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
