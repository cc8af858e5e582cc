package cli

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/tegata-project/tegata/internal/config"
)

// renewCredential is how the renewal service authenticates to the vault: as the
// service principal of renew.vault_auth when its client_id is set (client
// credentials, a secret or a certificate), else with the managed-identity token of
// the metadata service at imdsAddr. Token requests to the authority go through
// transport, the vault client's (same TLS trust: the system's roots and the vault's
// CA file), so a local authority is trusted as the vault is. It also returns how it
// authenticates, for the log.
func renewCredential(va config.VaultAuthConfig, imdsAddr string, transport policy.Transporter) (azcore.TokenCredential, string, error) {
	if va.ClientID == "" {
		return &imdsCredential{imds: imdsAddr}, "managed identity from " + imdsAddr, nil
	}
	fail := func(err error) (azcore.TokenCredential, string, error) {
		return nil, "", &exitError{code: 2, err: fmt.Errorf("configuration: %w", err)}
	}
	host := va.AuthorityHost
	if host == "" {
		host = config.DefaultAuthorityHost
	}
	u, err := url.Parse(host)
	if err != nil {
		return fail(fmt.Errorf("renew.vault_auth.authority_host: %w", err))
	}
	opts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: host},
		Transport: untrustedOnce{transport},
		Retry:     policy.RetryOptions{MaxRetries: 2},
	}
	// MSAL asks Entra ID's instance discovery (on login.microsoftonline.com) about any
	// authority it does not know; an authority that is not one of Entra ID's clouds
	// (Azure Stack, a disconnected cloud, a test) is used as given instead.
	noDiscovery := !entraHost(u.Hostname())
	sp := &servicePrincipal{tenant: va.TenantID, client: va.ClientID, authority: strings.TrimRight(host, "/")}
	if va.ClientSecretFile != "" {
		secret, err := va.ReadClientSecret()
		if err != nil {
			return fail(err)
		}
		sp.what = "client secret"
		sp.check = "renew.vault_auth.tenant_id, client_id, and the secret in client_secret_file (its value, not its ID; expired? rotated?)"
		sp.cred, err = azidentity.NewClientSecretCredential(va.TenantID, va.ClientID, secret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: noDiscovery})
		if err != nil {
			return fail(fmt.Errorf("renew.vault_auth: %w", err))
		}
	} else {
		pemData, err := va.ReadClientCertificate()
		if err != nil {
			return fail(err)
		}
		certs, key, err := azidentity.ParseCertificates(pemData, nil)
		if err != nil {
			return fail(fmt.Errorf("renew.vault_auth.client_certificate_file: %s: %v: give a PEM file with the certificate and its unencrypted private key", va.ClientCertificateFile, err))
		}
		if _, ok := key.(*rsa.PrivateKey); !ok {
			return fail(fmt.Errorf("renew.vault_auth.client_certificate_file: %s: the private key is a %T: Entra ID's certificate credentials take an RSA key", va.ClientCertificateFile, key))
		}
		sp.what = "client certificate " + certs[0].Subject.String()
		sp.check = "renew.vault_auth.tenant_id, client_id, and that the certificate in client_certificate_file is the one uploaded to the application (expired? replaced?)"
		sp.cred, err = azidentity.NewClientCertificateCredential(va.TenantID, va.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: noDiscovery})
		if err != nil {
			return fail(fmt.Errorf("renew.vault_auth.client_certificate_file: %s: %w", va.ClientCertificateFile, err))
		}
	}
	return sp, fmt.Sprintf("service principal %s of tenant %s (%s) from %s", va.ClientID, va.TenantID, sp.what, sp.authority), nil
}

// entraHost reports whether host is one of Microsoft Entra ID's authorities (the
// public cloud, US Government, China, and the older names), which MSAL validates
// through instance discovery.
func entraHost(host string) bool {
	switch strings.ToLower(host) {
	case "login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net",
		"login.microsoftonline.us", "login-us.microsoftonline.com", "login.usgovcloudapi.net",
		"login.chinacloudapi.cn", "login.partner.microsoftonline.cn", "login.microsoftonline.de":
		return true
	}
	return false
}

// untrustedOnce sends requests through t, and tells the SDK's retry policy not to
// retry a TLS certificate that failed verification: trying again cannot help.
type untrustedOnce struct{ t policy.Transporter }

func (u untrustedOnce) Do(req *http.Request) (*http.Response, error) {
	resp, err := u.t.Do(req)
	var cv *tls.CertificateVerificationError
	if err != nil && errors.As(err, &cv) {
		return resp, nonRetriable{err}
	}
	return resp, err
}

type nonRetriable struct{ error }

func (e nonRetriable) Unwrap() error { return e.error }
func (nonRetriable) NonRetriable()   {}

// servicePrincipal is azidentity's client-credential credential, with its failures
// told in one line that names the authority's answer and the settings to check
// (azidentity's own message spans a dozen lines).
type servicePrincipal struct {
	cred                                   azcore.TokenCredential
	tenant, client, authority, what, check string
}

func (s *servicePrincipal) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := s.cred.GetToken(ctx, opts)
	if err != nil {
		return tok, &tokenError{sp: s, scopes: strings.Join(opts.Scopes, " "), err: err}
	}
	return tok, nil
}

var otherTenant = regexp.MustCompile(`tenant "([^"]+)"`)

// tokenError is a refused or failed token request of a service principal.
type tokenError struct {
	sp     *servicePrincipal
	scopes string
	err    error
}

func (e *tokenError) Unwrap() error { return e.err }

func (e *tokenError) Error() string {
	head := fmt.Sprintf("renew.vault_auth: no token for %s from %s for client %s of tenant %s", e.scopes, e.sp.authority, e.sp.client, e.sp.tenant)
	var afe *azidentity.AuthenticationFailedError
	if errors.As(e.err, &afe) && afe.RawResponse != nil {
		return fmt.Sprintf("%s (%s): the authority answered %s; check %s", head, e.sp.what, authorityAnswer(afe), e.sp.check)
	}
	// No answer: the authority was not reached, or the tenant did not match the vault's.
	msg := strings.Join(strings.Fields(e.err.Error()), " ")
	if m := otherTenant.FindStringSubmatch(msg); m != nil && strings.Contains(msg, "AdditionallyAllowedTenants") {
		return fmt.Sprintf("%s: the vault asks for a token of tenant %s; set renew.vault_auth.tenant_id to the vault's tenant, in which the service principal must exist", head, m[1])
	}
	return fmt.Sprintf("%s: %s; check renew.vault_auth.authority_host: is it reachable, and is its TLS certificate trusted (the system's roots, or --ca-file)?", head, msg)
}

// authorityAnswer is the status and the OAuth2 error of the authority's answer,
// with Entra ID's description up to its trace lines ("AADSTS7000215: Invalid
// client secret provided. ...").
func authorityAnswer(afe *azidentity.AuthenticationFailedError) string {
	status := afe.RawResponse.Status
	body, err := runtime.Payload(afe.RawResponse)
	if err != nil || len(body) == 0 {
		return status
	}
	var oe struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &oe) != nil || oe.Error == "" {
		s := strings.Join(strings.Fields(string(body)), " ")
		if len(s) > 300 {
			s = s[:300] + "..."
		}
		return status + ": " + s
	}
	desc, _, _ := strings.Cut(oe.Description, "\n")
	desc = strings.TrimSuffix(strings.TrimSpace(desc), ".")
	if desc == "" {
		return status + ": " + oe.Error
	}
	return status + ": " + oe.Error + ": " + desc
}
