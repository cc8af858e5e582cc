package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxSecretAnswer bounds a vault answer, in bytes.
const maxSecretAnswer = 1 << 20

// A Secret is a secret version as the vault returns it (A.7).
type Secret struct {
	ID          string
	Name        string
	Version     string
	ContentType string
	Value       string
	Enabled     bool
	NotBefore   time.Time
	Expires     time.Time
	Created     time.Time
	Managed     bool
	// PreviousVersion is the previous certificate version, when the vault
	// says (tegata always does; Azure for certificates since mid-2025).
	PreviousVersion string
}

// A VaultClient reads secrets from Key Vault-compatible vaults, answering
// their challenge-based 401 (A.4): a request for a vault whose token
// resource is not known yet goes out without a token; the 401's
// WWW-Authenticate names the resource; the client gets a token for it and
// retries once. Later requests carry the token directly; a 401 then drops
// the cached token and retries once with a fresh one. It is safe for
// concurrent use.
type VaultClient struct {
	HTTP   *http.Client
	Tokens *TokenSource
	// APIVersion is sent with every request (default DefaultAPIVersion).
	APIVersion string
	// Resource, when set, is the token resource for every vault, and the
	// challenge is not needed.
	Resource string

	mu        sync.Mutex
	resources map[string]string // by vault base URL
}

// GetSecret reads the secret at u: the latest version when u pins none
// (GET {base}/secrets/{name}/, with the trailing slash the SDKs send), else
// that version. A refusal is a *VaultError, a token failure a *TokenError.
func (c *VaultClient) GetSecret(ctx context.Context, u SecretURL) (*Secret, error) {
	target := u.Base + "/secrets/" + u.Name + "/" + u.Version + "?api-version=" + url.QueryEscape(c.apiVersion())
	resource := c.resourceFor(u.Base)
	var token string
	if resource != "" {
		t, err := c.Tokens.Token(ctx, resource)
		if err != nil {
			return nil, err
		}
		token = t
	}
	resp, body, err := c.do(ctx, target, token)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		ch, ok := parseChallenge(resp.Header.Get("WWW-Authenticate"))
		res := c.Resource
		if res == "" {
			if !ok {
				return nil, &VaultError{URL: u.String(), Status: resp.StatusCode, Hint: "the answer carries no Bearer challenge naming a resource; set tegata.resource"}
			}
			res = ch.tokenResource()
			if err := verifyResource(u.Host, res); err != nil {
				return nil, &VaultError{URL: u.String(), Status: resp.StatusCode, Code: "ChallengeResourceMismatch", Message: err.Error(),
					Hint: "a vault may only ask for tokens for its own domain; if this vault is genuine, set tegata.resource"}
			}
		}
		if token != "" {
			c.Tokens.Invalidate(resource)
		}
		c.setResource(u.Base, res)
		if token, err = c.Tokens.Token(ctx, res); err != nil {
			return nil, err
		}
		if resp, body, err = c.do(ctx, target, token); err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized {
			c.Tokens.Invalidate(res)
		}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, vaultError(u, resp, body, c.Tokens)
	}
	return parseSecret(u, body)
}

func (c *VaultClient) apiVersion() string {
	if c.APIVersion == "" {
		return DefaultAPIVersion
	}
	return c.APIVersion
}

func (c *VaultClient) resourceFor(base string) string {
	if c.Resource != "" {
		return c.Resource
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resources[base]
}

func (c *VaultClient) setResource(base, res string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resources == nil {
		c.resources = map[string]string{}
	}
	c.resources[base] = res
}

// do sends one GET; network failures are *VaultError with status 0 wrapped
// in a PollError of KindNetwork by the caller's classification.
func (c *VaultClient) do(ctx context.Context, target, token string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := c.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, &PollError{Kind: KindNetwork, URL: strings.Split(target, "?")[0], Err: fmt.Errorf("reaching the vault: %w", err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSecretAnswer+1))
	if err != nil {
		return nil, nil, &PollError{Kind: KindNetwork, URL: strings.Split(target, "?")[0], Err: fmt.Errorf("reading the vault's answer: %w", err)}
	}
	if len(body) > maxSecretAnswer {
		return nil, nil, fmt.Errorf("the vault's answer exceeds %d bytes", maxSecretAnswer)
	}
	return resp, body, nil
}

// vaultError reads the Key Vault error envelope of a refusal.
func vaultError(u SecretURL, resp *http.Response, body []byte, ts *TokenSource) *VaultError {
	var env struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError *struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	ve := &VaultError{URL: u.String(), Status: resp.StatusCode}
	if json.Unmarshal(body, &env) == nil {
		ve.Code, ve.Message = env.Error.Code, truncateText(env.Error.Message, 300)
		if env.Error.InnerError != nil {
			ve.InnerCode = env.Error.InnerError.Code
		}
	}
	if ra, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && ra > 0 {
		ve.RetryAfterS = min(ra, 3600)
	}
	who := "the machine's managed identity"
	if ts != nil && ts.ClientID != "" {
		who = "the identity with client id " + ts.ClientID
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		ve.Hint = "the vault refused the token twice: does the vault trust this metadata service's issuer?"
	case resp.StatusCode == http.StatusForbidden && ve.InnerCode == "SecretDisabled":
		ve.Hint = "the version is disabled; the installed files stay"
	case resp.StatusCode == http.StatusForbidden:
		ve.Hint = fmt.Sprintf("grant %s the role Key Vault Secrets User (or Key Vault Certificate User) on vault %s", who, u.VaultName)
	case resp.StatusCode == http.StatusNotFound:
		ve.Hint = "no such secret: check the url (a certificate's secret has the certificate's name)"
	}
	return ve
}

// parseSecret reads a SecretBundle and checks that it is the secret asked for.
func parseSecret(u SecretURL, body []byte) (*Secret, error) {
	var b struct {
		ID          string `json:"id"`
		Value       string `json:"value"`
		ContentType string `json:"contentType"`
		Managed     bool   `json:"managed"`
		Previous    string `json:"previousVersion"`
		Attributes  struct {
			Enabled *bool   `json:"enabled"`
			NBF     flexInt `json:"nbf"`
			Exp     flexInt `json:"exp"`
			Created flexInt `json:"created"`
		} `json:"attributes"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, &PollError{Kind: KindNetwork, URL: u.String(), Err: fmt.Errorf("the vault's answer is not a secret bundle: %w", err)}
	}
	id, err := url.Parse(b.ID)
	if err != nil {
		return nil, &PollError{Kind: KindRefused, URL: u.String(), Err: fmt.Errorf("the secret's id %q is not a URL", truncateText(b.ID, 100))}
	}
	parts := strings.Split(strings.Trim(id.Path, "/"), "/")
	if len(parts) != 3 || parts[0] != "secrets" || !strings.EqualFold(parts[1], u.Name) || !versionName.MatchString(parts[2]) {
		return nil, &PollError{Kind: KindRefused, URL: u.String(), Err: fmt.Errorf("the secret's id %q is not %s/secrets/%s/<version>", truncateText(b.ID, 100), u.Base, u.Name)}
	}
	if u.Version != "" && !strings.EqualFold(parts[2], u.Version) {
		return nil, &PollError{Kind: KindRefused, URL: u.String(), Err: fmt.Errorf("asked for version %s, the vault answered %s", u.Version, parts[2])}
	}
	s := &Secret{ID: b.ID, Name: parts[1], Version: parts[2], ContentType: b.ContentType, Value: b.Value,
		Enabled: b.Attributes.Enabled == nil || *b.Attributes.Enabled, Managed: b.Managed, PreviousVersion: b.Previous}
	if b.Attributes.NBF > 0 {
		s.NotBefore = time.Unix(int64(b.Attributes.NBF), 0)
	}
	if b.Attributes.Exp > 0 {
		s.Expires = time.Unix(int64(b.Attributes.Exp), 0)
	}
	if b.Attributes.Created > 0 {
		s.Created = time.Unix(int64(b.Attributes.Created), 0)
	}
	return s, nil
}

// challenge is a parsed Bearer challenge.
type challenge struct {
	authorization, resource, scope string
}

// tokenResource is the resource to ask the metadata service for: the scope
// without /.default, else the resource.
func (c challenge) tokenResource() string {
	if c.scope != "" {
		return strings.TrimSuffix(c.scope, "/.default")
	}
	return c.resource
}

// parseChallenge reads a Bearer challenge, e.g.
// Bearer authorization="https://login.microsoftonline.com/<tenant>", resource="https://vault.azure.net".
func parseChallenge(h string) (challenge, bool) {
	h = strings.TrimSpace(h)
	i := strings.Index(strings.ToLower(h), "bearer ")
	if i < 0 {
		return challenge{}, false
	}
	p := parseAuthParams(h[i+len("bearer "):])
	c := challenge{authorization: p["authorization"], resource: p["resource"], scope: p["scope"]}
	if c.authorization == "" {
		c.authorization = p["authorization_uri"]
	}
	return c, c.tokenResource() != ""
}

// parseAuthParams reads key=value and key="value" pairs separated by commas
// and spaces. Keys are lower-cased.
func parseAuthParams(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ,\t")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				val, s = s[1:], ""
			} else {
				val, s = s[1:1+end], s[2+end:]
			}
		} else {
			end := strings.IndexAny(s, ", \t")
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		if _, dup := out[key]; !dup {
			out[key] = val
		}
	}
	return out
}

// verifyResource checks, as the Azure SDKs do, that a vault asks for tokens
// only for its own domain: the vault host must be the resource's host or
// end with "." and it. Vaults addressed by IP address or as localhost
// (tegata on a laptop) are not checked.
func verifyResource(vaultHost, resource string) error {
	if net.ParseIP(vaultHost) != nil || vaultHost == "localhost" {
		return nil
	}
	r, err := url.Parse(resource)
	if err != nil || r.Hostname() == "" {
		return fmt.Errorf("the challenge's resource %q is not a URL", truncateText(resource, 100))
	}
	rh := strings.ToLower(r.Hostname())
	if vaultHost == rh || strings.HasSuffix(vaultHost, "."+rh) {
		return nil
	}
	return fmt.Errorf("challenge resource %q doesn't match the vault's domain %s", truncateText(resource, 100), vaultHost)
}

// errorsAsVault returns the *VaultError in err, if any.
func errorsAsVault(err error) (*VaultError, bool) {
	var ve *VaultError
	ok := errors.As(err, &ve)
	return ve, ok
}
