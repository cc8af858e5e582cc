// Package dnsprov is the registry of DNS-01 providers that the renewal
// service can write challenge records with.
//
// A provider is named by type ("cloudflare", "rfc2136", ...) and configured
// with a flat map of string keys, as it appears in tegata.yaml; New builds
// one instance, and a deployment may hold many instances of one type (one
// per account, subscription or zone set). The keys each built-in provider
// accepts are documented on its factory (see builtin.go); an unknown key
// is an error, so a typo is caught when the configuration loads instead of
// during a renewal. Durations are Go durations ("90s", "2m"), booleans are
// "true" or "false", lists are comma-separated.
//
// Compiled in by default: rfc2136, httpreq, exec, azuredns, route53,
// cloudflare, gcloud and challtestsrv (pebble-challtestsrv's management
// API, for tests and private setups). Building with the tag tegata_alldns
// adds every other provider lego v4 ships, configured through lego's own
// environment variables, at the cost of about 145 extra modules (see
// alldns.go for the one `go get` it needs first).
//
// The providers implement lego's challenge.Provider interface (aliased
// here as Provider), which the acme package consumes; no other part of
// tegata needs to import lego.
package dnsprov

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-acme/lego/v4/challenge"
)

// Provider writes and removes DNS-01 challenge records: Present publishes
// the TXT value for keyAuth at the challenge name of domain, CleanUp
// removes it. It is lego's challenge.Provider; a provider may also
// implement Timeout() (timeout, interval time.Duration) to set how long
// propagation may take, and Sequential() time.Duration to have its
// authorizations solved one at a time.
type Provider = challenge.Provider

// A RecordProvider is a Provider that can also write a TXT value at a
// name the caller chose. tegata's own providers implement it, which lets
// the ACME client decide the record name (alias, CNAME following) with
// its own resolvers instead of lego's process-wide ones.
type RecordProvider interface {
	Provider
	// PresentRecord adds value to the TXT RRset at fqdn (with a trailing
	// dot), keeping the values already there.
	PresentRecord(ctx context.Context, fqdn, value string) error
	// CleanUpRecord removes value from the TXT RRset at fqdn, and only it.
	CleanUpRecord(ctx context.Context, fqdn, value string) error
}

// A Factory builds a provider instance from its configuration keys.
type Factory func(config map[string]string) (Provider, error)

// ErrUnknownProvider is returned (wrapped) by New for a name that no
// factory is registered under.
var ErrUnknownProvider = errors.New("unknown DNS provider")

var (
	mu       sync.RWMutex
	registry = builtins() // before any init, so init functions see them
)

// Register makes a provider type available under name. It panics if name
// is empty, f is nil, or name is already registered: registration happens
// in init functions, where a clash is a programming error.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if name == "" || f == nil {
		panic("dnsprov: Register with an empty name or a nil factory")
	}
	if _, dup := registry[name]; dup {
		panic("dnsprov: Register called twice for " + name)
	}
	registry[name] = f
}

// Registered reports whether a factory is registered under name.
func Registered(name string) bool {
	mu.RLock()
	defer mu.RUnlock()
	_, ok := registry[name]
	return ok
}

// Names returns the registered provider names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Sorted(maps.Keys(registry))
}

// New builds an instance of the provider registered under name. An unknown
// name gives an error wrapping ErrUnknownProvider that lists the known
// names; a bad configuration gives an error naming the provider and key.
func New(name string, config map[string]string) (Provider, error) {
	mu.RLock()
	f, ok := registry[name]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q: known providers are %s (build with -tags tegata_alldns for all of lego's)",
			ErrUnknownProvider, name, strings.Join(Names(), ", "))
	}
	p, err := f(config)
	if err != nil {
		return nil, fmt.Errorf("DNS provider %s: %w", name, err)
	}
	return p, nil
}

// keys reads a provider's configuration map, remembering which keys were
// read and the first error, so a factory reads every key and then calls
// done once.
type keys struct {
	m    map[string]string
	seen map[string]bool
	err  error
}

func newKeys(config map[string]string) *keys {
	return &keys{m: config, seen: map[string]bool{}}
}

func (k *keys) fail(key, format string, args ...any) {
	if k.err == nil {
		k.err = fmt.Errorf("key %q: %s", key, fmt.Sprintf(format, args...))
	}
}

// str returns the value of key, or "" when it is absent.
func (k *keys) str(key string) string {
	k.seen[key] = true
	return strings.TrimSpace(k.m[key])
}

// required returns the value of key, recording an error when it is empty.
func (k *keys) required(key string) string {
	v := k.str(key)
	if v == "" {
		k.fail(key, "required")
	}
	return v
}

// list returns the comma-separated values of key, without empty ones.
func (k *keys) list(key string) []string {
	var out []string
	for v := range strings.SplitSeq(k.str(key), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// duration sets *dst from key when it is present.
func (k *keys) duration(key string, dst *time.Duration) {
	if v := k.str(key); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			k.fail(key, "%q is not a duration like 90s or 2m", v)
			return
		}
		*dst = d
	}
}

// integer sets *dst from key when it is present.
func (k *keys) integer(key string, dst *int) {
	if v := k.str(key); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			k.fail(key, "%q is not a non-negative integer", v)
			return
		}
		*dst = n
	}
}

// boolean sets *dst from key when it is present.
func (k *keys) boolean(key string, dst *bool) {
	if v := k.str(key); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			k.fail(key, "%q is not true or false", v)
			return
		}
		*dst = b
	}
}

// common reads the keys every built-in provider accepts.
func (k *keys) common(ttl *int, timeout, interval *time.Duration) {
	if ttl != nil {
		k.integer("ttl", ttl)
	}
	k.duration("propagationTimeout", timeout)
	k.duration("pollingInterval", interval)
}

// done returns the first error, or an error naming the keys that no
// factory read, with the accepted ones.
func (k *keys) done() error {
	if k.err != nil {
		return k.err
	}
	var unknown []string
	for key := range k.m {
		if !k.seen[key] {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("unknown key(s) %s; accepted keys are %s",
			strings.Join(unknown, ", "), strings.Join(slices.Sorted(maps.Keys(k.seen)), ", "))
	}
	return nil
}
