package dnsprov

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-acme/lego/v4/challenge/dns01"
)

// ChallTestSrv writes challenge records through the management API of
// pebble-challtestsrv (the DNS server that Pebble, Let's Encrypt's test
// CA, validates against), for tests and for private setups that run it.
// It is registered as "challtestsrv"; keys:
//
//	url          the management API, http://host:port (required)
//	httpTimeout  timeout of one request (default 10s)
//
// plus propagationTimeout (default 60s) and pollingInterval (default 1s).
//
// challtestsrv can add a TXT value but only clear all the values of a
// name. To keep the values of other authorizations in flight (apex and
// wildcard share one RRset), CleanUpRecord clears a name only once the
// last value this instance published there is cleaned up; until then the
// stale value stays, which validation ignores. Calls are serialised.
type ChallTestSrv struct {
	base              string
	client            *http.Client
	timeout, interval time.Duration

	mu     sync.Mutex
	values map[string][]string // fqdn -> values this instance published
}

var _ RecordProvider = (*ChallTestSrv)(nil)

func newChallTestSrv(config map[string]string) (Provider, error) {
	k := newKeys(config)
	raw := k.required("url")
	httpTimeout := 10 * time.Second
	k.duration("httpTimeout", &httpTimeout)
	p := &ChallTestSrv{timeout: 60 * time.Second, interval: time.Second, values: map[string][]string{}}
	k.common(nil, &p.timeout, &p.interval)
	if err := k.done(); err != nil {
		return nil, err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("key \"url\": %q is not an http(s) URL", raw)
	}
	p.base = strings.TrimRight(u.String(), "/")
	p.client = &http.Client{Timeout: httpTimeout}
	return p, nil
}

// Present publishes the challenge value at the challenge name of domain
// (after following CNAMEs with lego's resolvers, as lego's providers do).
func (p *ChallTestSrv) Present(domain, _, keyAuth string) error {
	info := dns01.GetChallengeInfo(domain, keyAuth)
	return p.PresentRecord(context.Background(), info.EffectiveFQDN, info.Value)
}

// CleanUp removes what Present published.
func (p *ChallTestSrv) CleanUp(domain, _, keyAuth string) error {
	info := dns01.GetChallengeInfo(domain, keyAuth)
	return p.CleanUpRecord(context.Background(), info.EffectiveFQDN, info.Value)
}

// Timeout returns the propagation timeout and polling interval.
func (p *ChallTestSrv) Timeout() (timeout, interval time.Duration) { return p.timeout, p.interval }

// PresentRecord adds value to the TXT records of fqdn.
func (p *ChallTestSrv) PresentRecord(ctx context.Context, fqdn, value string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	fqdn = dns01.ToFqdn(strings.ToLower(fqdn))
	if err := p.post(ctx, "/set-txt", map[string]string{"host": fqdn, "value": value}); err != nil {
		return err
	}
	p.values[fqdn] = append(p.values[fqdn], value)
	return nil
}

// CleanUpRecord forgets value at fqdn, and clears fqdn's TXT records once
// no value this instance published there remains.
func (p *ChallTestSrv) CleanUpRecord(ctx context.Context, fqdn, value string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	fqdn = dns01.ToFqdn(strings.ToLower(fqdn))
	vals := p.values[fqdn]
	if i := slices.Index(vals, value); i >= 0 {
		vals = slices.Delete(vals, i, i+1)
	}
	if len(vals) > 0 {
		p.values[fqdn] = vals
		return nil
	}
	delete(p.values, fqdn)
	return p.post(ctx, "/clear-txt", map[string]string{"host": fqdn})
}

func (p *ChallTestSrv) post(ctx context.Context, path string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("challtestsrv: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("challtestsrv: POST %s%s: %s %s", p.base, path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
