package imds

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/tegata-project/tegata/internal/identity"
	"github.com/tegata-project/tegata/internal/instance"
	"github.com/tegata-project/tegata/internal/pki"
)

func newTokenServer(t *testing.T, inv *instance.Inventory) (*Server, *identity.Issuer) {
	t.Helper()
	master, err := pki.NewMasterKey([]byte(strings.Repeat("m", 32)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	iss, err := identity.Open(pki.NewKeys(dir, master), dir, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: DefaultConfig(), Inventory: inv, Tokens: iss})
	if err != nil {
		t.Fatal(err)
	}
	return s, iss
}

// TestAzureSDKGetsToken: the real azidentity client gets a token from the metadata
// service, and the token validates against the issuer's JWKS with the claims a
// resource checks.
func TestAzureSDKGetsToken(t *testing.T) {
	vm := instance.Generated(testVMID)
	s, iss := newTokenServer(t, instance.Single(vm))
	ts := httptest.NewServer(s)
	defer ts.Close()
	target, _ := url.Parse(ts.URL)
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: policy.ClientOptions{Transport: toServer{target, ts.Client()}, Retry: policy.RetryOptions{MaxRetries: -1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if until := time.Until(tok.ExpiresOn); until < 23*time.Hour || until > 25*time.Hour {
		t.Fatalf("token expires in %s, want about 24h", until)
	}
	var jwks jose.JSONWebKeySet
	if err := json.Unmarshal(iss.JWKS(), &jwks); err != nil || len(jwks.Keys) != 1 {
		t.Fatalf("JWKS: %v", err)
	}
	parsed, err := jwt.ParseSigned(tok.Token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	var extra struct {
		OID   string `json:"oid"`
		TID   string `json:"tid"`
		AppID string `json:"appid"`
		MIRID string `json:"xms_mirid"`
	}
	if err := parsed.Claims(jwks.Keys[0].Key, &claims, &extra); err != nil {
		t.Fatalf("the token does not verify with the JWKS: %v", err)
	}
	sys := vm.Identity.SystemAssigned
	if err := claims.Validate(jwt.Expected{AnyAudience: jwt.Audience{"https://vault.azure.net"}, Issuer: identity.IssuerURL(sys.TenantID), Time: time.Now()}); err != nil {
		t.Fatalf("claims: %v", err)
	}
	if extra.OID != sys.ObjectID || extra.AppID != sys.ClientID || extra.TID != sys.TenantID || extra.MIRID != vm.Compute.ResourceID {
		t.Fatalf("claims %+v do not name the VM's system-assigned identity", extra)
	}
}

func TestTokenSelection(t *testing.T) {
	inv, err := instance.Parse("inv.yaml", []byte(`instances:
  - name: vm-a
    identity:
      userAssigned:
        - resourceId: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/one
        - resourceId: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/two
    network:
      interface:
        - macAddress: 000D3A000001
          ipv4:
            ipAddress:
              - privateIpAddress: 10.0.0.4
`))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newTokenServer(t, inv)
	vm, _ := inv.ByName("vm-a")
	two := vm.Identity.UserAssigned[1]
	base := "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F"
	tests := []struct {
		query  string
		status int
		body   string
	}{
		{"", 400, `{"error":"invalid_request","error_description":"Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"}`},
		{"&client_id=" + two.ClientID, 200, `"client_id":"` + two.ClientID + `"`},
		{"&object_id=" + vm.Identity.UserAssigned[0].ObjectID, 200, `"client_id":"` + vm.Identity.UserAssigned[0].ClientID + `"`},
		{"&msi_res_id=" + url.QueryEscape(two.ResourceID), 200, `"client_id":"` + two.ClientID + `"`},
		{"&mi_res_id=" + url.QueryEscape(two.ResourceID), 200, `"client_id":"` + two.ClientID + `"`},
		{"&client_id=00000000-0000-0000-0000-000000000001", 400, `{"error":"invalid_request","error_description":"Identity not found"}`},
	}
	for _, tt := range tests {
		w := do(s, "GET", base+tt.query, md)
		if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.body) {
			t.Errorf("%s: %d %s", tt.query, w.Code, w.Body.String())
		}
	}
	// Every value is a string, keys in byte order, and the cache counts down.
	first := do(s, "GET", base+"&client_id="+two.ClientID, md).Body.String()
	var resp map[string]any
	if err := json.Unmarshal([]byte(first), &resp); err != nil {
		t.Fatal(err)
	}
	for k, v := range resp {
		if _, ok := v.(string); !ok {
			t.Errorf("%s is %T, want a string", k, v)
		}
	}
	if !strings.HasPrefix(first, `{"access_token":"`) || !strings.Contains(first, `","token_type":"Bearer"}`) || resp["resource"] != "https://management.azure.com/" {
		t.Errorf("response layout: %s", first)
	}
	again := do(s, "GET", base+"&client_id="+two.ClientID, md).Body.String()
	var resp2 map[string]any
	json.Unmarshal([]byte(again), &resp2)
	if resp2["access_token"] != resp["access_token"] {
		t.Error("a second request must get the cached token")
	}
	bypass := do(s, "GET", base+"&client_id="+two.ClientID+"&bypass_cache=true", md).Body.String()
	var resp3 map[string]any
	json.Unmarshal([]byte(bypass), &resp3)
	if resp3["access_token"] == resp["access_token"] {
		t.Error("bypass_cache=true must mint a new token")
	}
}
