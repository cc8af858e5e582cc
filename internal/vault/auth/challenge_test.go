package auth

import (
	"strings"
	"testing"
)

func TestChallenge(t *testing.T) {
	const tenantAuthority = "https://login.tegata.example/" + testTenant
	got, err := Challenge(tenantAuthority, testResource)
	if err != nil {
		t.Fatal(err)
	}
	want := `Bearer authorization="https://login.tegata.example/` + testTenant + `", resource="https://vault.tegata.example"`
	if got != want {
		t.Errorf("Challenge = %s\nwant        %s", got, want)
	}
	// Azure's own form, and an http authority with a port and a longer path.
	for _, ok := range [][2]string{
		{"https://login.microsoftonline.com/" + testTenant, "https://vault.azure.net"},
		{"http://127.0.0.1:8080/" + testTenant + "/v2.0", "https://vault.tegata.example/"},
	} {
		if _, err := Challenge(ok[0], ok[1]); err != nil {
			t.Errorf("Challenge(%q, %q): %v", ok[0], ok[1], err)
		}
	}
}

// parseLikeGoSDK splits a challenge as keyvault/internal v1.2.0 does: drop
// "Bearer ", split on spaces, keep pieces with exactly one "=", strip quotes
// and one trailing comma; the tenant is path segment 3 of authorization.
func parseLikeGoSDK(h string) (authority, resource, tenant string) {
	vals := map[string]string{}
	for _, piece := range strings.Split(strings.TrimPrefix(h, "Bearer "), " ") {
		kv := strings.Split(piece, "=")
		if len(kv) != 2 {
			continue
		}
		vals[kv[0]] = strings.TrimSuffix(strings.ReplaceAll(kv[1], `"`, ""), ",")
	}
	authority, resource = vals["authorization"], vals["resource"]
	if segs := strings.Split(authority, "/"); len(segs) > 3 {
		tenant = segs[3]
	}
	return
}

func TestChallengeParsesLikeGoSDK(t *testing.T) {
	h, err := Challenge(TenantAuthority("https://login.tegata.example/", testTenant), testResource)
	if err != nil {
		t.Fatal(err)
	}
	authority, resource, tenant := parseLikeGoSDK(h)
	if authority != "https://login.tegata.example/"+testTenant || resource != testResource || tenant != testTenant {
		t.Errorf("parsed %q: authority %q, resource %q, tenant %q", h, authority, resource, tenant)
	}
}

func TestChallengeRefuses(t *testing.T) {
	tests := []struct {
		name, authority, resource, message string
	}{
		{"no path", "https://login.tegata.example", testResource, "no tenant"},
		{"empty path", "https://login.tegata.example/", testResource, "no tenant"},
		{"empty first segment", "https://login.tegata.example//" + testTenant, testResource, "no tenant"},
		{"relative", "login.tegata.example/" + testTenant, testResource, "not an absolute https URL"},
		{"other scheme", "ftp://login.tegata.example/" + testTenant, testResource, "not an absolute https URL"},
		{"no host", "https:///" + testTenant, testResource, "not an absolute https URL"},
		{"query", "https://login.tegata.example/t?x=1", testResource, "'='"},
		{"bare query", "https://login.tegata.example/t?", testResource, "query"},
		{"fragment", "https://login.tegata.example/t#f", testResource, "fragment"},
		{"user info", "https://u@login.tegata.example/t", testResource, "user info"},
		{"space", "https://login.tegata.example/a b", testResource, "space"},
		{"tab", "https://login.tegata.example/a\tb", testResource, "space"},
		{"newline (header injection)", "https://login.tegata.example/t\r\nX-Evil: 1", testResource, "control character"},
		{"quote", `https://login.tegata.example/"t"`, testResource, "double quote"},
		{"comma", "https://login.tegata.example/t,u", testResource, "comma"},
		{"empty authority", "", testResource, "authority is empty"},
		{"empty resource", "https://login.tegata.example/t", "", "resource is empty"},
		{"resource without scheme", "https://login.tegata.example/t", "vault.tegata.example", "not an absolute URI"},
		{"resource without host", "https://login.tegata.example/t", "https:///x", "not an absolute URI"},
		{"resource with equals", "https://login.tegata.example/t", "https://vault.tegata.example/?a=b", "'='"},
		{"resource with space", "https://login.tegata.example/t", "https://vault tegata", "space"},
		{"resource with fragment", "https://login.tegata.example/t", "https://vault.tegata.example#x", "fragment"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Challenge(tc.authority, tc.resource)
			if err == nil {
				t.Fatalf("Challenge(%q, %q) = %s, want an error", tc.authority, tc.resource, h)
			}
			if h != "" {
				t.Errorf("a refused challenge returned %q", h)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q lacks %q", err, tc.message)
			}
		})
	}
}

func TestTenantAuthority(t *testing.T) {
	for _, tc := range []struct{ base, tenant, want string }{
		{"https://login.tegata.example", "t1", "https://login.tegata.example/t1"},
		{"https://login.tegata.example/", "t1", "https://login.tegata.example/t1"},
		{"https://login.tegata.example//", "t1", "https://login.tegata.example/t1"},
		{"https://login.microsoftonline.com", testTenant, "https://login.microsoftonline.com/" + testTenant},
	} {
		if got := TenantAuthority(tc.base, tc.tenant); got != tc.want {
			t.Errorf("TenantAuthority(%q, %q) = %q, want %q", tc.base, tc.tenant, got, tc.want)
		}
	}
}
