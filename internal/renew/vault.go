package renew

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// Vault is where managed certificates live: a Key Vault data plane, tegata's or
// Azure's, reached with the Azure SDK's certificate client. The private key of
// every certificate is generated inside the vault and never leaves it: the
// service asks for a CSR and merges the CA's chain back (reference A.10).
type Vault struct {
	URL     string
	certs   *azcertificates.Client
	secrets *azsecrets.Client
}

// NewVault returns a Vault at url, authenticating with cred. Set
// disableResourceCheck for a vault addressed by IP address (tegata's, in dev
// mode), whose host is not under the challenge's resource.
func NewVault(url string, cred azcore.TokenCredential, opts azcore.ClientOptions, disableResourceCheck bool) (*Vault, error) {
	c, err := azcertificates.NewClient(url, cred, &azcertificates.ClientOptions{ClientOptions: opts, DisableChallengeResourceVerification: disableResourceCheck})
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", url, err)
	}
	sc, err := azsecrets.NewClient(url, cred, &azsecrets.ClientOptions{ClientOptions: opts, DisableChallengeResourceVerification: disableResourceCheck})
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", url, err)
	}
	return &Vault{URL: url, certs: c, secrets: sc}, nil
}

// policy is the certificate policy a definition asks the vault for: issuer
// Unknown (the CSR flow), subject CN=<first name>, the names as SANs, serverAuth.
func (d *Definition) policy() *azcertificates.CertificatePolicy {
	kp := &azcertificates.KeyProperties{Exportable: to.Ptr(true), ReuseKey: to.Ptr(d.ReuseKey)}
	if d.KeyType == "RSA" {
		kp.KeyType = to.Ptr(azcertificates.KeyTypeRSA)
		kp.KeySize = to.Ptr(int32(d.KeySize))
	} else {
		kp.KeyType = to.Ptr(azcertificates.KeyTypeEC)
		kp.Curve = to.Ptr(azcertificates.CurveName(d.Curve))
	}
	var sans []*string
	for _, n := range d.DNSNames {
		sans = append(sans, to.Ptr(n))
	}
	return &azcertificates.CertificatePolicy{
		IssuerParameters: &azcertificates.IssuerParameters{Name: to.Ptr("Unknown")},
		KeyProperties:    kp,
		SecretProperties: &azcertificates.SecretProperties{ContentType: to.Ptr("application/x-pem-file")},
		X509CertificateProperties: &azcertificates.X509CertificateProperties{
			Subject:                 to.Ptr("CN=" + d.DNSNames[0]),
			SubjectAlternativeNames: &azcertificates.SubjectAlternativeNames{DNSNames: sans},
			EnhancedKeyUsage:        []*string{to.Ptr("1.3.6.1.5.5.7.3.1")},
		},
	}
}

// beginCSR creates the pending certificate and returns its CSR. When an
// operation is already in progress (a crash between create and merge), the
// vault answers 409 and its CSR is reused, as acmebot does (#1060).
func (v *Vault) beginCSR(ctx context.Context, d *Definition) ([]byte, error) {
	op, err := v.certs.CreateCertificate(ctx, d.Name, azcertificates.CreateCertificateParameters{CertificatePolicy: d.policy()}, nil)
	if err == nil {
		if len(op.CSR) == 0 {
			return nil, fmt.Errorf("vault %s: create %s answered no CSR (status %s)", v.URL, d.Name, deref(op.Status))
		}
		return op.CSR, nil
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusConflict {
		pend, perr := v.certs.GetCertificateOperation(ctx, d.Name, nil)
		if perr == nil && deref(pend.Status) == "inProgress" && len(pend.CSR) > 0 {
			return pend.CSR, nil
		}
	}
	return nil, vaultError("create", v.URL, d.Name, err)
}

// merge completes the pending certificate with the CA's chain and tags it.
func (v *Vault) merge(ctx context.Context, name string, chain []*x509.Certificate, tags map[string]string) (string, error) {
	var x5c [][]byte
	for _, c := range chain {
		x5c = append(x5c, c.Raw)
	}
	t := map[string]*string{}
	for k, val := range tags {
		t[k] = to.Ptr(val)
	}
	resp, err := v.certs.MergeCertificate(ctx, name, azcertificates.MergeCertificateParameters{X509Certificates: x5c, Tags: t}, nil)
	if err != nil {
		return "", vaultError("merge", v.URL, name, err)
	}
	return resp.ID.Version(), nil
}

// abandon deletes a pending operation whose order failed, so the next attempt
// starts clean; the current version is untouched.
func (v *Vault) abandon(ctx context.Context, name string) {
	v.certs.DeleteCertificateOperation(ctx, name, nil)
}

// disable disables one version of name in the vault: its key and secret can no
// longer be used, the certificate stays. A renewal adds a new, enabled version.
func (v *Vault) disable(ctx context.Context, name, version string) error {
	_, err := v.certs.UpdateCertificate(ctx, name, version, azcertificates.UpdateCertificateParameters{
		CertificateAttributes: &azcertificates.CertificateAttributes{Enabled: to.Ptr(false)}}, nil)
	if err != nil {
		return vaultError("disable", v.URL, name, err)
	}
	return nil
}

// Current is a certificate's latest version as the vault holds it.
type Current struct {
	Leaf    *x509.Certificate
	Version string
	Tags    map[string]string
	Enabled bool
	Updated time.Time
}

// current reads name's latest version; nil, nil when there is none.
func (v *Vault) current(ctx context.Context, name string) (*Current, error) {
	resp, err := v.certs.GetCertificate(ctx, name, "", nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, vaultError("read", v.URL, name, err)
	}
	leaf, err := x509.ParseCertificate(resp.CER)
	if err != nil {
		return nil, fmt.Errorf("vault %s: certificate %s: %w", v.URL, name, err)
	}
	c := &Current{Leaf: leaf, Version: resp.ID.Version(), Tags: map[string]string{}, Enabled: true}
	for k, val := range resp.Tags {
		if val != nil {
			c.Tags[k] = *val
		}
	}
	if a := resp.Attributes; a != nil {
		if a.Enabled != nil {
			c.Enabled = *a.Enabled
		}
		if a.Updated != nil {
			c.Updated = *a.Updated
		}
	}
	return c, nil
}

// ErrVault wraps failures of the vault, which the scheduler classes as "vault".
var ErrVault = errors.New("vault unavailable or refused")

func vaultError(op, url, name string, err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return fmt.Errorf("%w: %s %s at %s: %d %s", ErrVault, op, name, url, re.StatusCode, re.ErrorCode)
	}
	return fmt.Errorf("%w: %s %s at %s: %v", ErrVault, op, name, url, err)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
