package identity

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tegata-project/tegata/internal/instance"
	"github.com/tegata-project/tegata/internal/pki"
)

func jwksKIDs(t *testing.T, i *Issuer) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(i.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

func tokenKID(t *testing.T, body []byte) string {
	t.Helper()
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(body, &resp)
	tok, err := jwt.ParseSigned(resp.AccessToken, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Headers[0].KeyID
}

// TestKeyRotation jumps a fake clock: the signing key rotates on schedule, the old key
// stays published until the last token it signed has expired, and a restart keeps the
// keys.
func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	master, _ := pki.NewMasterKey([]byte(strings.Repeat("r", 32)))
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	opts := Options{Lifetime: 24 * time.Hour, Rotation: 30 * 24 * time.Hour, Clock: func() time.Time { return now }}
	iss, err := Open(pki.NewKeys(dir, master), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	vm := instance.Generated("3f1c8a52-6d0e-4b7a-9c2f-1e5d7a9b0c11")
	p, err := Select(vm, Selector{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := iss.Token(vm, p, "https://vault.azure.net", false)
	first := tokenKID(t, body)
	if kids := jwksKIDs(t, iss); len(kids) != 1 || kids[0] != first {
		t.Fatalf("JWKS %v, want only %s", kids, first)
	}

	now = now.Add(31 * 24 * time.Hour) // rotation due
	body, _ = iss.Token(vm, p, "https://vault.azure.net", false)
	second := tokenKID(t, body)
	if second == first {
		t.Fatal("the key did not rotate after 31 days")
	}
	if kids := jwksKIDs(t, iss); len(kids) != 2 {
		t.Fatalf("right after the rotation the JWKS must hold both keys: %v", kids)
	}
	now = now.Add(25 * time.Hour) // every token of the old key has expired
	if kids := jwksKIDs(t, iss); len(kids) != 1 || kids[0] != second {
		t.Fatalf("after the old key's tokens expired the JWKS must hold only the new key: %v", kids)
	}

	again, err := Open(pki.NewKeys(dir, master), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = again.Token(vm, p, "https://management.azure.com/", true)
	if tokenKID(t, body) != second {
		t.Fatal("after a restart the issuer must sign with the same key")
	}
}

func TestSelect(t *testing.T) {
	vm := instance.Generated("3f1c8a52-6d0e-4b7a-9c2f-1e5d7a9b0c11")
	if p, err := Select(vm, Selector{}); err != nil || !p.System {
		t.Fatalf("default: %+v %v", p, err)
	}
	if _, err := Select(vm, Selector{ClientID: "nope"}); err != ErrNotFound {
		t.Fatalf("unknown client id: %v", err)
	}
	sys := vm.Identity.SystemAssigned
	if p, err := Select(vm, Selector{ObjectID: strings.ToUpper(sys.ObjectID)}); err != nil || p.ClientID != sys.ClientID {
		t.Fatalf("object id, any case: %+v %v", p, err)
	}
	none := instance.Generated("3f1c8a52-6d0e-4b7a-9c2f-1e5d7a9b0c12")
	none.Identity = instance.Identity{}
	if _, err := Select(none, Selector{}); err != ErrNotFound {
		t.Fatalf("no identity: %v", err)
	}
}
