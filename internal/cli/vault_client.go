package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/spf13/cobra"

	"github.com/tegata-project/tegata/internal/pki"
)

// vaultClientFlags say which vault to talk to and how to get a token for it.
type vaultClientFlags struct {
	vaultURL string
	imds     string
	token    string
	caFile   string
}

func (f *vaultClientFlags) register(cmd *cobra.Command) {
	fl := cmd.PersistentFlags()
	fl.StringVar(&f.vaultURL, "vault", "https://127.0.0.1:8256", "vault URL")
	fl.StringVar(&f.imds, "imds", "http://127.0.0.1:8254", "metadata service to get a managed-identity token from (as a VM does)")
	fl.StringVar(&f.token, "token-file", "", "read the bearer token from this file instead of asking the metadata service")
	fl.StringVar(&f.caFile, "ca-file", "", "CA certificate the vault's TLS chains to (default ./.tegata/tls-ca.pem when it exists, else <data-dir>/tls-ca.pem)")
}

// clientOptions builds the SDK options: TLS trusting the CA file, and resource
// verification off when the vault is addressed by IP or localhost (no vault domain).
func (f *vaultClientFlags) clientOptions(g *globals) (azcore.ClientOptions, bool, error) {
	caFile := f.caFile
	if caFile == "" {
		caFile = filepath.Join(upDataDir, pki.TLSCAFile)
		if _, err := os.Stat(caFile); err != nil {
			dd, _ := g.flags.GetString("data-dir")
			if dd == "" {
				dd = defaultDataDir()
			}
			caFile = filepath.Join(dd, pki.TLSCAFile)
		}
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if pem, err := os.ReadFile(caFile); err == nil {
		pool.AppendCertsFromPEM(pem)
	} else if f.caFile != "" {
		return azcore.ClientOptions{}, false, &exitError{code: 2, err: fmt.Errorf("--ca-file %s: %w", f.caFile, err)}
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, TLSHandshakeTimeout: 10 * time.Second}
	u, err := url.Parse(f.vaultURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return azcore.ClientOptions{}, false, &exitError{code: 2, err: fmt.Errorf("--vault %q: give the vault's https URL, e.g. https://127.0.0.1:8256", f.vaultURL)}
	}
	h := u.Hostname()
	plainHost := net.ParseIP(h) != nil || h == "localhost"
	return azcore.ClientOptions{Transport: &http.Client{Transport: tr, Timeout: 60 * time.Second}, Retry: policy.RetryOptions{MaxRetries: 2}}, plainHost, nil
}

// credential gets tokens from the metadata service (or a file), for the scope the
// vault's challenge names.
func (f *vaultClientFlags) credential() azcore.TokenCredential {
	return &imdsCredential{imds: f.imds, tokenFile: f.token}
}

type imdsCredential struct {
	imds, tokenFile string
}

func (c *imdsCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if c.tokenFile != "" {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return azcore.AccessToken{}, fmt.Errorf("--token-file: %w", err)
		}
		return azcore.AccessToken{Token: strings.TrimSpace(string(b)), ExpiresOn: time.Now().Add(time.Hour)}, nil
	}
	if len(opts.Scopes) != 1 {
		return azcore.AccessToken{}, errors.New("the vault's challenge named no single scope")
	}
	resource := strings.TrimSuffix(opts.Scopes[0], "/.default")
	base := strings.TrimRight(c.imds, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base // host:port alone, as in --imds 127.0.0.1:8254
	}
	u := base + "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + url.QueryEscape(resource)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("--imds %q: %w", c.imds, err)
	}
	req.Header.Set("Metadata", "true")
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("getting a managed-identity token from %s: %w (is `tegata up` running? or give --token-file)", c.imds, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return azcore.AccessToken{}, fmt.Errorf("the metadata service at %s refused a token: %s %s", c.imds, resp.Status, strings.TrimSpace(string(body)))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresOn   int64  `json:"expires_on,string"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return azcore.AccessToken{}, fmt.Errorf("the metadata service's token answer is unreadable: %w", err)
	}
	return azcore.AccessToken{Token: tok.AccessToken, ExpiresOn: time.Unix(tok.ExpiresOn, 0)}, nil
}

func (f *vaultClientFlags) secrets(g *globals) (*azsecrets.Client, error) {
	co, plain, err := f.clientOptions(g)
	if err != nil {
		return nil, err
	}
	return azsecrets.NewClient(f.vaultURL, f.credential(), &azsecrets.ClientOptions{ClientOptions: co, DisableChallengeResourceVerification: plain})
}

func (f *vaultClientFlags) certificates(g *globals) (*azcertificates.Client, error) {
	co, plain, err := f.clientOptions(g)
	if err != nil {
		return nil, err
	}
	return azcertificates.NewClient(f.vaultURL, f.credential(), &azcertificates.ClientOptions{ClientOptions: co, DisableChallengeResourceVerification: plain})
}

// vaultError turns an SDK error into the vault's own words.
func vaultError(err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		var env struct {
			Error struct {
				Code, Message string
			}
		}
		if re.RawResponse != nil && re.RawResponse.Body != nil {
			b, _ := io.ReadAll(io.LimitReader(re.RawResponse.Body, 64<<10))
			if json.Unmarshal(b, &env) == nil && env.Error.Message != "" {
				return fmt.Errorf("vault answered %d %s: %s", re.StatusCode, env.Error.Code, env.Error.Message)
			}
		}
		return fmt.Errorf("vault answered %d %s", re.StatusCode, re.ErrorCode)
	}
	return err
}

func defaultDataDir() string {
	if d := os.Getenv("TEGATA_DATA_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return upDataDir
	}
	return filepath.Join(home, ".local", "share", "tegata")
}
