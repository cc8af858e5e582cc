package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Managed-identity token requests (C.3).
const (
	imdsAPIVersion = "2018-02-01"
	// tokenEarly is how long before its expiry a cached token is replaced.
	tokenEarly = 5 * time.Minute
	// maxTokenAnswer bounds the metadata service's answer, in bytes.
	maxTokenAnswer = 64 << 10
	// maxArcKey bounds an Azure Arc key file, in bytes (C.3).
	maxArcKey = 4096
)

// DefaultArcTokenDir is where Azure Arc's agent writes the key files its
// challenge points to.
func DefaultArcTokenDir() string {
	if runtime.GOOS == "windows" {
		return `C:\ProgramData\AzureConnectedMachineAgent\Tokens`
	}
	return "/var/opt/azcmagent/tokens"
}

// A TokenSource gets managed-identity tokens from a metadata service
// (Azure's IMDS, Azure Arc's, or tegata's) and caches each until 5 minutes
// before it expires. It is safe for concurrent use.
type TokenSource struct {
	// URL is the token endpoint, as TokenURL returns it.
	URL string
	// ClientID selects a user-assigned identity (msiClientId); "" lets the
	// metadata service pick the system-assigned one.
	ClientID string
	HTTP     *http.Client
	Clock    func() time.Time
	// ArcTokenDir is the only directory an Azure Arc challenge may point
	// into (default DefaultArcTokenDir()).
	ArcTokenDir string

	mu    sync.Mutex
	cache map[string]cachedToken
}

type cachedToken struct {
	token     string
	refreshAt time.Time
}

// Token returns a token for resource (for example https://vault.azure.net),
// from the cache or from the metadata service. Failures are *TokenError.
func (ts *TokenSource) Token(ctx context.Context, resource string) (string, error) {
	now := ts.now()
	ts.mu.Lock()
	if c, ok := ts.cache[resource]; ok && now.Before(c.refreshAt) {
		ts.mu.Unlock()
		return c.token, nil
	}
	ts.mu.Unlock()
	tok, expires, err := ts.fetch(ctx, resource)
	if err != nil {
		return "", err
	}
	lifetime := expires.Sub(now)
	refreshAt := expires.Add(-min(tokenEarly, lifetime/2))
	ts.mu.Lock()
	if ts.cache == nil {
		ts.cache = map[string]cachedToken{}
	}
	ts.cache[resource] = cachedToken{token: tok, refreshAt: refreshAt}
	ts.mu.Unlock()
	return tok, nil
}

// Invalidate drops the cached token for resource, after the vault refused it.
func (ts *TokenSource) Invalidate(resource string) {
	ts.mu.Lock()
	delete(ts.cache, resource)
	ts.mu.Unlock()
}

func (ts *TokenSource) now() time.Time {
	if ts.Clock != nil {
		return ts.Clock()
	}
	return time.Now()
}

// tokenAnswer is the metadata service's answer; numbers may be strings.
type tokenAnswer struct {
	AccessToken string  `json:"access_token"`
	ExpiresIn   flexInt `json:"expires_in"`
	ExpiresOn   flexInt `json:"expires_on"`
	TokenType   string  `json:"token_type"`
	Error       string  `json:"error"`
	Description string  `json:"error_description"`
}

// flexInt reads a JSON number or a string of digits.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*f = flexInt(v)
	return nil
}

func (ts *TokenSource) fetch(ctx context.Context, resource string) (string, time.Time, error) {
	q := url.Values{"api-version": {imdsAPIVersion}, "resource": {resource}}
	if ts.ClientID != "" {
		q.Set("client_id", ts.ClientID)
	}
	u := ts.URL + "?" + q.Encode()
	resp, body, err := ts.get(ctx, u, "")
	if err != nil {
		return "", time.Time{}, &TokenError{Endpoint: ts.URL, Err: err, Hint: "is the metadata service reachable? check authenticationSettings.msiEndpoint"}
	}
	if resp.StatusCode == http.StatusUnauthorized {
		// Azure Arc: WWW-Authenticate: Basic realm=<key file>.
		if keyFile, ok := arcRealm(resp.Header.Get("WWW-Authenticate")); ok {
			secret, err := ts.readArcKey(keyFile)
			if err != nil {
				return "", time.Time{}, &TokenError{Endpoint: ts.URL, Status: resp.StatusCode, Err: err}
			}
			if resp, body, err = ts.get(ctx, u, "Basic "+secret); err != nil {
				return "", time.Time{}, &TokenError{Endpoint: ts.URL, Err: err}
			}
		}
	}
	var a tokenAnswer
	jsonErr := json.Unmarshal(body, &a)
	if resp.StatusCode != http.StatusOK {
		te := &TokenError{Endpoint: ts.URL, Status: resp.StatusCode, Code: a.Error, Description: a.Description}
		if jsonErr != nil || (a.Error == "" && a.Description == "") {
			te.Description = truncateText(string(body), 200)
		}
		te.Hint = ts.hint(te)
		return "", time.Time{}, te
	}
	if jsonErr != nil || a.AccessToken == "" {
		return "", time.Time{}, &TokenError{Endpoint: ts.URL, Status: resp.StatusCode, Err: errors.New("the answer holds no access_token")}
	}
	now := ts.now()
	expires := now.Add(time.Minute) // neither expiry given: keep it briefly
	switch {
	case a.ExpiresOn > 0:
		expires = time.Unix(int64(a.ExpiresOn), 0)
	case a.ExpiresIn > 0:
		expires = now.Add(time.Duration(a.ExpiresIn) * time.Second)
	}
	return a.AccessToken, expires, nil
}

// hint says what to do about a refusal, for the refusals Azure users meet
// (MicrosoftDocs/azure-docs#43099).
func (ts *TokenSource) hint(te *TokenError) string {
	d := strings.ToLower(te.Description + " " + te.Code)
	switch {
	case strings.Contains(d, "identity not found") || strings.Contains(d, "multiple user assigned identities"):
		if ts.ClientID == "" {
			return "the machine has user-assigned identities, or none: set authenticationSettings.msiClientId to the client id of the identity that may read the vault"
		}
		return fmt.Sprintf("no identity with client id %s is assigned to this machine: check authenticationSettings.msiClientId", ts.ClientID)
	case te.Status == http.StatusNotFound:
		return "no token endpoint there: check authenticationSettings.msiEndpoint (e.g. " + DefaultMSIEndpoint + ")"
	}
	return ""
}

func (ts *TokenSource) get(ctx context.Context, u, authz string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Metadata", "true")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	client := ts.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenAnswer))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp, body, nil
}

// arcRealm returns the key file path of an Azure Arc Basic challenge.
func arcRealm(h string) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", false
	}
	params := parseAuthParams(rest)
	realm := params["realm"]
	return realm, realm != ""
}

// readArcKey reads the key file of an Azure Arc challenge, which must be a
// .key file of at most 4096 bytes directly in ArcTokenDir (C.3).
func (ts *TokenSource) readArcKey(path string) (string, error) {
	dir := ts.ArcTokenDir
	if dir == "" {
		dir = DefaultArcTokenDir()
	}
	clean := filepath.Clean(path)
	if filepath.Dir(clean) != filepath.Clean(dir) || filepath.Ext(clean) != ".key" {
		return "", fmt.Errorf("the Azure Arc challenge names %q, which is not a .key file in %s: refused", path, dir)
	}
	fi, err := os.Stat(clean)
	if err != nil {
		return "", fmt.Errorf("the Azure Arc key file: %w (the agent must run as root or in the himds group)", err)
	}
	if fi.Size() > maxArcKey {
		return "", fmt.Errorf("the Azure Arc key file %s is %d bytes; at most %d are accepted", clean, fi.Size(), maxArcKey)
	}
	b, err := os.ReadFile(clean)
	if err != nil {
		return "", fmt.Errorf("the Azure Arc key file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func truncateText(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
