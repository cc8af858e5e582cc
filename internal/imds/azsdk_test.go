package imds

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// toServer sends the Azure SDK's requests for Azure's hard-coded IMDS address to a test
// server instead (docs/imds.md, "Serving on 169.254.169.254" has the other ways).
type toServer struct {
	target *url.URL
	client *http.Client
}

func (t toServer) Do(r *http.Request) (*http.Response, error) {
	if r.URL.Host == "169.254.169.254" {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = t.target.Scheme, t.target.Host
		r.Host = t.target.Host
	}
	return t.client.Do(r)
}

// TestAzureSDKManagedIdentity drives the real azidentity client against the metadata
// service. Until tokens are issued (a later part), every VM answers as one without a
// managed identity; the client must see Azure's exact error and its request must be the
// one Azure expects.
func TestAzureSDKManagedIdentity(t *testing.T) {
	s := newTestServer(t, nil)
	ts := httptest.NewServer(s)
	defer ts.Close()
	target, _ := url.Parse(ts.URL)
	opts := policy.ClientOptions{Transport: toServer{target, ts.Client()}, Retry: policy.RetryOptions{MaxRetries: -1}}

	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	if err == nil || !strings.Contains(err.Error(), "Identity not found") {
		t.Fatalf("GetToken error = %v, want Azure's \"Identity not found\"", err)
	}
	var sawToken bool
	for _, rec := range s.requests.list() {
		if rec.Path != "/metadata/identity/oauth2/token" || rec.Metadata == "" {
			continue
		}
		sawToken = true
		q, _ := url.ParseQuery(rec.Query)
		if q.Get("api-version") != "2018-02-01" || q.Get("resource") != "https://vault.azure.net" || rec.Status != 400 {
			t.Errorf("token request %q answered %d: want api-version 2018-02-01, resource without /.default, 400", rec.Query, rec.Status)
		}
	}
	if !sawToken {
		t.Fatalf("the SDK's token request never reached the service: %+v", s.requests.list())
	}
}

// TestAzureSDKDefaultCredentialProbe checks DefaultAzureCredential's header-less probe:
// it must get an HTTP answer (400) within its 1 s timeout, after which the SDK sends the
// real request, with the header.
func TestAzureSDKDefaultCredentialProbe(t *testing.T) {
	s := newTestServer(t, nil)
	ts := httptest.NewServer(s)
	defer ts.Close()
	target, _ := url.Parse(ts.URL)
	for _, env := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "MSI_ENDPOINT", "AZURE_TOKEN_CREDENTIALS"} {
		t.Setenv(env, "") // restored after the test
		os.Unsetenv(env)
	}
	opts := policy.ClientOptions{Transport: toServer{target, ts.Client()}, Retry: policy.RetryOptions{MaxRetries: -1}}
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}}); err == nil {
		t.Fatal("GetToken succeeded; no credential should be available")
	}
	var probe, real bool
	for _, rec := range s.requests.list() {
		if rec.Path != "/metadata/identity/oauth2/token" {
			continue
		}
		switch {
		case rec.Metadata == "" && rec.Query == "" && rec.Status == 400:
			probe = true
		case rec.Metadata == "true" && rec.Status == 400:
			real = true
		}
	}
	if !probe || !real {
		t.Fatalf("want the header-less probe answered 400 and then the real request; log: %+v", s.requests.list())
	}
}
