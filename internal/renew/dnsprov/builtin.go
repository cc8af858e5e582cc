package dnsprov

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/go-acme/lego/v4/providers/dns/azuredns"
	"github.com/go-acme/lego/v4/providers/dns/cloudflare"
	"github.com/go-acme/lego/v4/providers/dns/exec"
	"github.com/go-acme/lego/v4/providers/dns/gcloud"
	"github.com/go-acme/lego/v4/providers/dns/httpreq"
	"github.com/go-acme/lego/v4/providers/dns/rfc2136"
	"github.com/go-acme/lego/v4/providers/dns/route53"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"
)

// Every built-in provider accepts, besides its own keys:
//
//	ttl                 TTL of the TXT record, in seconds (where the provider sets one)
//	propagationTimeout  how long to wait for the record to be visible (default: the provider's)
//	pollingInterval     how often to look meanwhile (default: the provider's)
//
// Keys that are absent keep lego's default for the field, which lego may
// read from its own environment variable (CLOUDFLARE_TTL and the like).
func builtins() map[string]Factory {
	return map[string]Factory{
		"rfc2136":      newRFC2136,
		"httpreq":      newHTTPReq,
		"exec":         newExec,
		"azuredns":     newAzureDNS,
		"route53":      newRoute53,
		"cloudflare":   newCloudflare,
		"gcloud":       newGCloud,
		"challtestsrv": newChallTestSrv,
	}
}

// newRFC2136 builds a provider that sends RFC 2136 dynamic updates,
// signed with TSIG. Keys:
//
//	nameserver        the primary server, host or host:port (required)
//	zones             the zones it serves, comma-separated (default: found with SOA queries to nameserver)
//	tsigKey           TSIG key name
//	tsigSecret        TSIG secret, base64
//	tsigAlgorithm     hmac-sha1., hmac-sha224., hmac-sha256. (default), hmac-sha384. or hmac-sha512.
//	tsigFile          a BIND key file, instead of the three keys above
//	dnsTimeout        timeout of one update (default 10s)
//	sequenceInterval  wait between two authorizations, which this provider solves one at a time
//	                  because an insert replaces the RRset (default 60s)
func newRFC2136(config map[string]string) (Provider, error) {
	k := newKeys(config)
	c := rfc2136.NewDefaultConfig()
	c.Nameserver = k.required("nameserver")
	c.Zones = k.list("zones")
	c.TSIGKey, c.TSIGSecret, c.TSIGFile = k.str("tsigKey"), k.str("tsigSecret"), k.str("tsigFile")
	c.TSIGAlgorithm = "hmac-sha256."
	if a := k.str("tsigAlgorithm"); a != "" {
		c.TSIGAlgorithm = a
	}
	k.duration("dnsTimeout", &c.DNSTimeout)
	k.duration("sequenceInterval", &c.SequenceInterval)
	k.common(&c.TTL, &c.PropagationTimeout, &c.PollingInterval)
	if err := k.done(); err != nil {
		return nil, err
	}
	if (c.TSIGKey == "") != (c.TSIGSecret == "") {
		return nil, errors.New("tsigKey and tsigSecret go together: set both or neither")
	}
	return rfc2136.NewDNSProviderConfig(c)
}

// newHTTPReq builds lego's httpreq provider, which POSTs {"fqdn","value"}
// (or, in RAW mode, {"domain","token","keyAuth"}) to endpoint/present and
// endpoint/cleanup. Keys:
//
//	endpoint     base URL (required)
//	mode         "" or RAW
//	username     HTTP basic authentication user
//	password     HTTP basic authentication password
//	httpTimeout  timeout of one request (default 30s)
func newHTTPReq(config map[string]string) (Provider, error) {
	k := newKeys(config)
	c := httpreq.NewDefaultConfig()
	endpoint := k.required("endpoint")
	c.Mode, c.Username, c.Password = k.str("mode"), k.str("username"), k.str("password")
	timeout := 30 * time.Second
	k.duration("httpTimeout", &timeout)
	k.common(nil, &c.PropagationTimeout, &c.PollingInterval)
	if err := k.done(); err != nil {
		return nil, err
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("key \"endpoint\": %q is not an http(s) URL", endpoint)
	}
	if c.Mode != "" && c.Mode != "RAW" {
		return nil, fmt.Errorf("key \"mode\": %q is neither empty nor RAW", c.Mode)
	}
	c.Endpoint = u
	c.HTTPClient = &http.Client{Timeout: timeout}
	return httpreq.NewDNSProviderConfig(c)
}

// newExec builds lego's exec provider, which runs
// `program present|cleanup <fqdn> <value>` (or, in RAW mode,
// `program present|cleanup -- <domain> <token> <keyAuth>`). Keys:
//
//	program           path of the program (required)
//	mode              "" or RAW
//	sequenceInterval  wait between two authorizations, solved one at a time (default 60s)
func newExec(config map[string]string) (Provider, error) {
	k := newKeys(config)
	c := exec.NewDefaultConfig()
	c.Program = k.required("program")
	c.Mode = k.str("mode")
	k.duration("sequenceInterval", &c.SequenceInterval)
	k.common(nil, &c.PropagationTimeout, &c.PollingInterval)
	if err := k.done(); err != nil {
		return nil, err
	}
	if c.Mode != "" && c.Mode != "RAW" {
		return nil, fmt.Errorf("key \"mode\": %q is neither empty nor RAW", c.Mode)
	}
	return exec.NewDNSProviderConfig(c)
}

// newAzureDNS builds a provider for Azure DNS (public or private zones).
// lego lists the subscription's zones (Azure Resource Graph) when it
// builds one, so New fails while Azure cannot be reached. Keys:
//
//	subscriptionId          subscription of the zone (required)
//	resourceGroup           resource group of the zone (required unless the zone is found by discovery)
//	zoneName                the zone, when it differs from the one found by SOA
//	privateZone             true for an Azure Private DNS zone
//	environment             public (default), china or usgovernment
//	authMethod              "" (the default credential chain), env, msi, wli, cli, oidc or pipeline
//	tenantId, clientId, clientSecret   a service principal (authMethod env)
//	authMsiTimeout          timeout of a managed-identity token request (default 2s)
//	oidcToken, oidcTokenFilePath, oidcRequestUrl, oidcRequestToken   for authMethod oidc
//	serviceDiscoveryFilter  Azure Resource Graph filter used to find zones
func newAzureDNS(config map[string]string) (Provider, error) {
	k := newKeys(config)
	c := azuredns.NewDefaultConfig()
	c.SubscriptionID = k.required("subscriptionId")
	c.ResourceGroup, c.ZoneName = k.str("resourceGroup"), k.str("zoneName")
	k.boolean("privateZone", &c.PrivateZone)
	env := k.str("environment")
	c.AuthMethod = k.str("authMethod")
	c.TenantID, c.ClientID, c.ClientSecret = k.str("tenantId"), k.str("clientId"), k.str("clientSecret")
	c.AuthMSITimeout = 2 * time.Second
	k.duration("authMsiTimeout", &c.AuthMSITimeout)
	c.OIDCToken, c.OIDCTokenFilePath = k.str("oidcToken"), k.str("oidcTokenFilePath")
	c.OIDCRequestURL, c.OIDCRequestToken = k.str("oidcRequestUrl"), k.str("oidcRequestToken")
	c.ServiceDiscoveryFilter = k.str("serviceDiscoveryFilter")
	k.common(&c.TTL, &c.PropagationTimeout, &c.PollingInterval)
	if err := k.done(); err != nil {
		return nil, err
	}
	switch env {
	case "", "public":
		c.Environment = cloud.AzurePublic
	case "china":
		c.Environment = cloud.AzureChina
	case "usgovernment":
		c.Environment = cloud.AzureGovernment
	default:
		return nil, fmt.Errorf("key \"environment\": %q is not public, china or usgovernment", env)
	}
	return azuredns.NewDNSProviderConfig(c)
}

// newRoute53 builds a provider for Amazon Route 53. Without accessKeyId,
// the AWS SDK's default chain applies (environment, shared files, instance
// role). Keys:
//
//	accessKeyId, secretAccessKey, sessionToken   static credentials
//	region                   AWS region
//	hostedZoneId             the hosted zone (default: found from the name)
//	privateZone              true to look for a private hosted zone
//	assumeRoleArn, externalId   a role to assume
//	maxRetries               retries of one API call (default 5)
//	waitForRecordSetsChanged wait for the change to be INSYNC (default true)
func newRoute53(config map[string]string) (Provider, error) {
	k := newKeys(config)
	c := route53.NewDefaultConfig()
	c.AccessKeyID, c.SecretAccessKey, c.SessionToken = k.str("accessKeyId"), k.str("secretAccessKey"), k.str("sessionToken")
	c.Region, c.HostedZoneID = k.str("region"), k.str("hostedZoneId")
	k.boolean("privateZone", &c.PrivateZone)
	c.AssumeRoleArn, c.ExternalID = k.str("assumeRoleArn"), k.str("externalId")
	k.integer("maxRetries", &c.MaxRetries)
	k.boolean("waitForRecordSetsChanged", &c.WaitForRecordSetsChanged)
	k.common(&c.TTL, &c.PropagationTimeout, &c.PollingInterval)
	if err := k.done(); err != nil {
		return nil, err
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return nil, errors.New("accessKeyId and secretAccessKey go together: set both or neither")
	}
	return route53.NewDNSProviderConfig(c)
}

// newCloudflare builds a provider for Cloudflare. Keys:
//
//	apiToken     API token with Zone:Read and DNS:Edit (recommended)
//	zoneToken    a separate token with Zone:Read, when apiToken has DNS:Edit only
//	email, apiKey   the global API key instead of a token (discouraged)
//	baseUrl      API base URL (default Cloudflare's)
//	httpTimeout  timeout of one request (default 30s)
//
// Cloudflare's smallest TTL is 120 seconds.
func newCloudflare(config map[string]string) (Provider, error) {
	k := newKeys(config)
	c := cloudflare.NewDefaultConfig()
	c.AuthToken, c.ZoneToken = k.str("apiToken"), k.str("zoneToken")
	c.AuthEmail, c.AuthKey = k.str("email"), k.str("apiKey")
	c.BaseURL = k.str("baseUrl")
	timeout := 30 * time.Second
	k.duration("httpTimeout", &timeout)
	k.common(&c.TTL, &c.PropagationTimeout, &c.PollingInterval)
	if err := k.done(); err != nil {
		return nil, err
	}
	if c.AuthToken == "" && (c.AuthEmail == "" || c.AuthKey == "") {
		return nil, errors.New("set apiToken (or both email and apiKey)")
	}
	c.HTTPClient = &http.Client{Timeout: timeout}
	return cloudflare.NewDNSProviderConfig(c)
}

// gcloudScope is Cloud DNS's read-write OAuth scope.
const gcloudScope = "https://www.googleapis.com/auth/ndev.clouddns.readwrite"

// newGCloud builds a provider for Google Cloud DNS. Without a service
// account key it uses Application Default Credentials. Keys:
//
//	project                    the project of the zone (default: the key's project_id)
//	serviceAccountKey          a service account key, JSON
//	serviceAccountKeyBase64    the same, base64 (Acmebot's KeyFile64)
//	serviceAccountFile         path of a service account key file
//	impersonateServiceAccount  a service account to act as
//	zoneId                     the managed zone (default: found from the name)
//	allowPrivateZone           true to accept private zones
func newGCloud(config map[string]string) (Provider, error) {
	k := newKeys(config)
	c := gcloud.NewDefaultConfig()
	c.Project = k.str("project")
	key, key64, keyFile := k.str("serviceAccountKey"), k.str("serviceAccountKeyBase64"), k.str("serviceAccountFile")
	c.ImpersonateServiceAccount = k.str("impersonateServiceAccount")
	c.ZoneID = k.str("zoneId")
	k.boolean("allowPrivateZone", &c.AllowPrivateZone)
	k.common(&c.TTL, &c.PropagationTimeout, &c.PollingInterval)
	if err := k.done(); err != nil {
		return nil, err
	}
	var saKey []byte
	switch {
	case key != "":
		saKey = []byte(key)
	case key64 != "":
		b, err := base64.StdEncoding.DecodeString(key64)
		if err != nil {
			return nil, fmt.Errorf("key \"serviceAccountKeyBase64\": %w", err)
		}
		saKey = b
	case keyFile != "":
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("key \"serviceAccountFile\": %w", err)
		}
		saKey = b
	}
	if c.Project == "" && saKey != nil {
		var sa struct {
			ProjectID string `json:"project_id"`
		}
		_ = json.Unmarshal(saKey, &sa)
		c.Project = sa.ProjectID
	}
	if c.Project == "" {
		return nil, errors.New("set project (or give a service account key that names its project_id)")
	}
	client, err := gcloudClient(context.Background(), saKey, c.ImpersonateServiceAccount)
	if err != nil {
		return nil, err
	}
	c.HTTPClient = client
	return gcloud.NewDNSProviderConfig(c)
}

// gcloudClient returns an HTTP client that authenticates to Cloud DNS with
// the key (or Application Default Credentials), as lego's would.
func gcloudClient(ctx context.Context, saKey []byte, impersonateAccount string) (*http.Client, error) {
	scope := gcloudScope
	if impersonateAccount != "" {
		scope = "https://www.googleapis.com/auth/cloud-platform"
	}
	var ts oauth2.TokenSource
	if saKey != nil {
		conf, err := google.JWTConfigFromJSON(saKey, scope)
		if err != nil {
			return nil, fmt.Errorf("service account key: %w", err)
		}
		ts = conf.TokenSource(ctx)
	} else {
		creds, err := google.FindDefaultCredentials(ctx, scope)
		if err != nil {
			return nil, fmt.Errorf("no service account key given and no Application Default Credentials: %w", err)
		}
		ts = creds.TokenSource
	}
	if impersonateAccount != "" {
		its, err := impersonate.CredentialsTokenSource(ctx, impersonate.CredentialsConfig{
			TargetPrincipal: impersonateAccount, Scopes: []string{gcloudScope},
		}, option.WithTokenSource(ts))
		if err != nil {
			return nil, fmt.Errorf("impersonating %s: %w", impersonateAccount, err)
		}
		ts = its
	}
	return oauth2.NewClient(ctx, ts), nil
}
