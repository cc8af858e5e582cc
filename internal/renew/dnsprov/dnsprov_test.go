package dnsprov

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/challenge"
)

func TestNewUnknownProvider(t *testing.T) {
	_, err := New("nosuchdns", nil)
	if !errors.Is(err, ErrUnknownProvider) {
		t.Fatalf("got %v, want ErrUnknownProvider", err)
	}
	for _, name := range []string{"cloudflare", "rfc2136", "challtestsrv"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %s", err, name)
		}
	}
}

func TestBuiltinsRegistered(t *testing.T) {
	want := []string{"azuredns", "challtestsrv", "cloudflare", "exec", "gcloud", "httpreq", "rfc2136", "route53"}
	for _, name := range want {
		if !slices.Contains(Names(), name) {
			t.Errorf("%s is not registered; Names() = %v", name, Names())
		}
	}
}

var fakes atomic.Int32

func TestRegister(t *testing.T) {
	name := fmt.Sprintf("test-fake-%d", fakes.Add(1)) // -count=N registers anew
	Register(name, func(config map[string]string) (Provider, error) {
		k := newKeys(config)
		v := k.required("value")
		if err := k.done(); err != nil {
			return nil, err
		}
		return fakeProvider(v), nil
	})
	p, err := New(name, map[string]string{"value": "x"})
	if err != nil || p.(fakeProvider) != "x" {
		t.Fatalf("New = %v, %v", p, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice did not panic")
		}
	}()
	Register(name, func(map[string]string) (Provider, error) { return nil, nil })
}

type fakeProvider string

func (fakeProvider) Present(string, string, string) error { return nil }
func (fakeProvider) CleanUp(string, string, string) error { return nil }

// Each built-in provider builds from its keys (without touching the
// network, except azuredns), and rejects a bad configuration naming the key.
func TestBuiltinConfigs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		config  map[string]string
		wantErr string // empty: builds
	}{
		{"rfc2136", map[string]string{"nameserver": "127.0.0.1:53", "tsigKey": "k", "tsigSecret": "c2VjcmV0", "ttl": "60"}, ""},
		{"rfc2136", map[string]string{}, `"nameserver": required`},
		{"rfc2136", map[string]string{"nameserver": "127.0.0.1", "tsigKey": "k"}, "tsigKey and tsigSecret"},
		{"rfc2136", map[string]string{"nameserver": "127.0.0.1", "tsigAlgorithm": "hmac-md4."}, "unsupported TSIG algorithm"},
		{"rfc2136", map[string]string{"nameserver": "127.0.0.1", "propagationTimeout": "soon"}, `"propagationTimeout": "soon" is not a duration`},
		{"rfc2136", map[string]string{"nameserver": "127.0.0.1", "tsig_key": "k"}, `unknown key(s) tsig_key; accepted keys are`},
		{"httpreq", map[string]string{"endpoint": "https://dns.example.test/acme", "mode": "RAW"}, ""},
		{"httpreq", map[string]string{"endpoint": "ftp://x"}, "not an http(s) URL"},
		{"httpreq", map[string]string{"endpoint": "https://x", "mode": "raw"}, `"mode"`},
		{"exec", map[string]string{"program": "/bin/true", "sequenceInterval": "1s"}, ""},
		{"exec", map[string]string{"program": "/bin/true", "mode": "x"}, `"mode"`},
		{"cloudflare", map[string]string{"apiToken": "t", "ttl": "120"}, ""},
		{"cloudflare", map[string]string{"email": "a@b.test"}, "set apiToken"},
		{"cloudflare", map[string]string{"apiToken": "t", "ttl": "-1"}, "not a non-negative integer"},
		{"route53", map[string]string{"accessKeyId": "AKIA", "secretAccessKey": "s", "region": "eu-west-1", "hostedZoneId": "Z1"}, ""},
		{"route53", map[string]string{"accessKeyId": "AKIA"}, "accessKeyId and secretAccessKey"},
		{"route53", map[string]string{"privateZone": "maybe"}, "not true or false"},
		// A valid azuredns configuration is not built here: lego lists the
		// subscription's zones (Azure Resource Graph) when it builds one.
		{"azuredns", map[string]string{"resourceGroup": "rg"}, `"subscriptionId": required`},
		{"azuredns", map[string]string{"subscriptionId": "s", "environment": "mars"}, `"environment"`},
		{"gcloud", map[string]string{"zoneId": "z"}, "set project"},
		{"gcloud", map[string]string{"project": "p", "serviceAccountKey": "{}"}, "service account key"},
		{"gcloud", map[string]string{"serviceAccountKeyBase64": "!!"}, "serviceAccountKeyBase64"},
		{"challtestsrv", map[string]string{"url": "http://127.0.0.1:8055", "pollingInterval": "100ms"}, ""},
		{"challtestsrv", map[string]string{"url": "127.0.0.1:8055"}, "not an http(s) URL"},
	} {
		p, err := New(tc.name, tc.config)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s %v: %v", tc.name, tc.config, err)
		case tc.wantErr == "" && p == nil:
			t.Errorf("%s %v: nil provider", tc.name, tc.config)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s %v: got %v, want an error containing %q", tc.name, tc.config, err, tc.wantErr)
		case tc.wantErr != "" && !strings.HasPrefix(err.Error(), "DNS provider "+tc.name+": "):
			t.Errorf("error %q does not name the provider", err)
		}
	}
}

func TestTimeoutsFromKeys(t *testing.T) {
	p, err := New("cloudflare", map[string]string{"apiToken": "t", "propagationTimeout": "7m", "pollingInterval": "3s"})
	if err != nil {
		t.Fatal(err)
	}
	timeout, interval := p.(challenge.ProviderTimeout).Timeout()
	if timeout != 7*time.Minute || interval != 3*time.Second {
		t.Errorf("Timeout() = %v, %v; want 7m, 3s", timeout, interval)
	}
}

// lego's exec provider runs the program with present|cleanup, the record
// name and the value.
func TestExecProvider(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "calls")
	script := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> "+out+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LEGO_DISABLE_CNAME_SUPPORT", "true") // no lookups of the test name
	p, err := New("exec", map[string]string{"program": script})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Present("a.tegata.test", "tok", "tok.thumb"); err != nil {
		t.Fatal(err)
	}
	if err := p.CleanUp("a.tegata.test", "tok", "tok.thumb"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "present _acme-challenge.a.tegata.test. ") ||
		!strings.HasPrefix(lines[1], "cleanup _acme-challenge.a.tegata.test. ") {
		t.Errorf("hook calls: %q", lines)
	}
	if _, ok := p.(interface{ Sequential() time.Duration }); !ok {
		t.Error("exec does not ask for sequential solving")
	}
}
