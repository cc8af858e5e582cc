package renew

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/tegata-project/tegata/internal/renew/acme"
)

var nonName = regexp.MustCompile(`[^0-9A-Za-z]+`)

// accountSecret names the vault secret that keeps the ACME account of a
// directory: its key (PKCS#8 PEM) as the value, its URI in a tag.
func accountSecret(directory string) string {
	host := directory
	if u, err := url.Parse(directory); err == nil && u.Host != "" {
		host = u.Host
	}
	return "tegata-acme-" + strings.Trim(nonName.ReplaceAllString(strings.ToLower(host), "-"), "-")
}

// Account returns the ACME client for directory, its account key kept in the
// vault (created, registered and stored on first use), so that every replica and
// every restart acts as the same account.
func (v *Vault) Account(ctx context.Context, cfg acme.Config) (*acme.Client, error) {
	name := accountSecret(cfg.DirectoryURL)
	resp, err := v.secrets.GetSecret(ctx, name, "", nil)
	var re *azcore.ResponseError
	switch {
	case err == nil:
		b, _ := pem.Decode([]byte(deref(resp.Value)))
		if b == nil {
			return nil, fmt.Errorf("vault secret %s holds no PEM key; delete it to register a new ACME account", name)
		}
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("vault secret %s: %w", name, err)
		}
		key, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("vault secret %s: the account key is a %T, want ECDSA", name, k)
		}
		cfg.Account.Key = key
		cfg.Account.URI = deref(resp.Tags["acmeAccount"])
		return acme.NewClient(ctx, cfg)
	case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
	default:
		return nil, vaultError("read account", v.URL, name, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cfg.Account.Key = key
	cfg.Account.URI = ""
	c, err := acme.NewClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	value := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	_, err = v.secrets.SetSecret(ctx, name, azsecrets.SetSecretParameters{
		Value: &value, ContentType: to.Ptr("application/x-pem-file"),
		Tags: map[string]*string{"acmeAccount": to.Ptr(c.Account().URI), "directory": to.Ptr(cfg.DirectoryURL)},
	}, nil)
	if err != nil {
		return nil, vaultError("store account", v.URL, name, err)
	}
	return c, nil
}
