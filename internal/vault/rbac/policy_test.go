package rbac

import (
	"strings"
	"testing"

	"github.com/tegata-project/tegata/internal/store"
)

const (
	alice = "8d3c6f0e-1b2a-4c5d-9e8f-0a1b2c3d4e5f"
	bob   = "11111111-2222-3333-4444-555555555555"
)

const (
	idAdmin          = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
	idCertsOfficer   = "a4417e6f-fecd-4de8-b567-7b0420556985"
	idCertUser       = "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"
	idSecretsOfficer = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
	idSecretsUser    = "4633458b-17de-408a-b874-0445c86b69e6"
	idReader         = "21090545-7ca7-4776-b22c-e363652d74d2"
)

func assign(principal, role, scope string) store.Assignment {
	return store.Assignment{ID: principal[:4] + scope, Vault: "kv1", Principal: principal, RoleID: role, Scope: scope}
}

func compile(t testing.TB, as ...store.Assignment) *Policy {
	t.Helper()
	p, err := Compile(as)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// granted is A.12's table worked out by hand: the actions (without
// "Microsoft.KeyVault/vaults/") each role grants.
var granted = map[string][]string{
	idAdmin: {
		"secrets/delete", "secrets/backup/action", "secrets/purge/action", "secrets/update/action", "secrets/recover/action",
		"secrets/restore/action", "secrets/readMetadata/action", "secrets/getSecret/action", "secrets/setSecret/action",
		"certificates/delete", "certificates/read", "certificates/backup/action", "certificates/purge/action",
		"certificates/update/action", "certificates/create/action", "certificates/import/action", "certificates/recover/action",
		"certificates/restore/action", "certificatecas/read", "certificatecas/write", "certificatecas/delete",
		"certificatecontacts/write", "keys/read",
	},
	idCertsOfficer: {
		"certificates/delete", "certificates/read", "certificates/backup/action", "certificates/purge/action",
		"certificates/update/action", "certificates/create/action", "certificates/import/action", "certificates/recover/action",
		"certificates/restore/action", "certificatecas/read", "certificatecas/write", "certificatecas/delete",
		"certificatecontacts/write",
	},
	idCertUser: {"certificates/read", "secrets/getSecret/action", "secrets/readMetadata/action", "keys/read"},
	idSecretsOfficer: {
		"secrets/delete", "secrets/backup/action", "secrets/purge/action", "secrets/update/action", "secrets/recover/action",
		"secrets/restore/action", "secrets/readMetadata/action", "secrets/getSecret/action", "secrets/setSecret/action",
	},
	idSecretsUser: {"secrets/getSecret/action", "secrets/readMetadata/action"},
	idReader:      {"certificates/read", "certificatecas/read", "keys/read", "secrets/readMetadata/action"},
	// tegata's renewal roles: tegata/ actions only.
	"7e6a7a00-72e0-4e00-8000-000000000001": {"tegata/renewals/read"},
	"7e6a7a00-72e0-4e00-8000-000000000002": {"tegata/renewals/read", "tegata/renewals/issue/action"},
	"7e6a7a00-72e0-4e00-8000-000000000003": {"tegata/renewals/read", "tegata/renewals/revoke/action"},
}

func TestDecideVaultScope(t *testing.T) {
	for _, r := range Roles() {
		p := compile(t, assign(alice, r.ID, "/"))
		allowed := map[string]bool{}
		for _, a := range granted[r.ID] {
			if !strings.HasPrefix(a, "tegata/") {
				a = "Microsoft.KeyVault/vaults/" + a
			}
			allowed[a] = true
		}
		if len(allowed) == 0 {
			t.Fatalf("no hand-written grants for %s", r.Name)
		}
		for _, action := range Actions() {
			for _, target := range []Target{{}, {Collection: "secrets", Name: "db"}, {Collection: "certificates", Name: "www"}, {Vault: "KV1", Collection: "keys", Name: "www"}} {
				d := p.Decide(alice, action, target)
				if d.Allowed != allowed[action] {
					t.Errorf("%s at vault scope, %s on %+v: allowed = %v, want %v", r.Name, action, target, d.Allowed, allowed[action])
				}
				if d.Allowed && (d.Role != r.Name || d.Needed != nil) {
					t.Errorf("%s, %s: decision %+v", r.Name, action, d)
				}
				if !d.Allowed && d.Role != "" {
					t.Errorf("%s, %s: denied with role %q", r.Name, action, d.Role)
				}
				// Nobody else gains anything.
				if p.Decide(bob, action, target).Allowed {
					t.Errorf("%s assigned to alice allows %s to bob", r.Name, action)
				}
			}
		}
	}
}

func TestDecideObjectScope(t *testing.T) {
	p := compile(t,
		assign(alice, idSecretsUser, "/secrets/db-password"),
		assign(alice, idCertUser, "/certificates/WWW"),
		assign(bob, idCertsOfficer, "/certificates/api"),
	)
	tests := []struct {
		name      string
		principal string
		action    string
		target    Target
		want      bool
	}{
		{"secret scope grants that secret", alice, ActionGetSecret, Target{Collection: "secrets", Name: "db-password"}, true},
		{"secret names compare case-insensitively", alice, ActionGetSecret, Target{Collection: "SECRETS", Name: "DB-Password"}, true},
		{"secret scope: another secret", alice, ActionGetSecret, Target{Collection: "secrets", Name: "db-password2"}, false},
		{"secret scope: a prefix of the name", alice, ActionGetSecret, Target{Collection: "secrets", Name: "db"}, false},
		{"secret scope: the certificate of that name", alice, ActionCertificatesRead, Target{Collection: "certificates", Name: "db-password"}, false},
		{"secret scope: the key of that name", alice, ActionKeysRead, Target{Collection: "keys", Name: "db-password"}, false},
		{"secret scope: action the role lacks", alice, ActionSetSecret, Target{Collection: "secrets", Name: "db-password"}, false},
		{"secret scope: listing the vault", alice, ActionSecretsReadMetadata, Target{}, false},
		{"certificate scope grants the certificate", alice, ActionCertificatesRead, Target{Collection: "certificates", Name: "www"}, true},
		{"certificate scope covers its secret", alice, ActionGetSecret, Target{Collection: "secrets", Name: "www"}, true},
		{"certificate scope covers its key", alice, ActionKeysRead, Target{Collection: "keys", Name: "Www"}, true},
		{"certificate scope: another certificate", alice, ActionCertificatesRead, Target{Collection: "certificates", Name: "www2"}, false},
		{"certificate scope: another secret", alice, ActionGetSecret, Target{Collection: "secrets", Name: "api"}, false},
		{"certificate scope: listing certificates", alice, ActionCertificatesRead, Target{}, false},
		{"certificate scope: unknown collection", alice, ActionCertificatesRead, Target{Collection: "issuers", Name: "www"}, false},
		{"certificate scope: name without collection", alice, ActionCertificatesRead, Target{Name: "www"}, false},
		{"officer scope: create that certificate", bob, ActionCertificatesCreate, Target{Collection: "certificates", Name: "api"}, true},
		{"officer scope: officer cannot read the private key", bob, ActionGetSecret, Target{Collection: "secrets", Name: "api"}, false},
		{"officer scope: issuers are vault-level", bob, ActionCertificateCAsWrite, Target{}, false},
		{"principal compared case-insensitively", strings.ToUpper(alice), ActionGetSecret, Target{Collection: "secrets", Name: "db-password"}, true},
		{"unknown principal", "nobody", ActionGetSecret, Target{Collection: "secrets", Name: "db-password"}, false},
		{"empty principal", "", ActionGetSecret, Target{Collection: "secrets", Name: "db-password"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if d := p.Decide(tc.principal, tc.action, tc.target); d.Allowed != tc.want {
				t.Errorf("Decide(%s, %s, %+v) = %+v, want allowed %v", tc.principal, tc.action, tc.target, d, tc.want)
			}
		})
	}
}

func TestDecideVaults(t *testing.T) {
	kv1 := assign(alice, idSecretsUser, "/")
	kv2 := assign(bob, idSecretsUser, "/")
	kv2.Vault = "kv2"
	secret := func(vault string) Target { return Target{Vault: vault, Collection: "secrets", Name: "x"} }

	one := compile(t, kv1)
	if !one.Decide(alice, ActionGetSecret, secret("")).Allowed {
		t.Error("one vault's policy: a target without a vault is denied")
	}
	if !one.Decide(alice, ActionGetSecret, secret("KV1")).Allowed {
		t.Error("vault names are not compared case-insensitively")
	}
	if one.Decide(alice, ActionGetSecret, secret("kv2")).Allowed {
		t.Error("an assignment on kv1 grants on kv2")
	}

	two := compile(t, kv1, kv2)
	for _, tc := range []struct {
		who, vault string
		want       bool
	}{{alice, "kv1", true}, {alice, "kv2", false}, {bob, "kv2", true}, {bob, "kv1", false}, {alice, "", false}, {bob, "", false}} {
		if got := two.Decide(tc.who, ActionGetSecret, secret(tc.vault)).Allowed; got != tc.want {
			t.Errorf("two vaults' policy: %s on vault %q: allowed = %v, want %v", tc.who, tc.vault, got, tc.want)
		}
	}
}

func TestDecideNilAndEmptyPolicy(t *testing.T) {
	var nilPolicy *Policy
	d := nilPolicy.Decide(alice, ActionGetSecret, Target{})
	if d.Allowed || len(d.Needed) == 0 {
		t.Errorf("nil policy: %+v", d)
	}
	if compile(t).Decide(alice, ActionGetSecret, Target{}).Allowed {
		t.Error("empty policy allows")
	}
}

func TestDecideFirstGrantingRole(t *testing.T) {
	p := compile(t, assign(alice, idReader, "/"), assign(alice, idSecretsOfficer, "/secrets/db"))
	if d := p.Decide(alice, ActionSetSecret, Target{Collection: "secrets", Name: "db"}); !d.Allowed || d.Role != "Key Vault Secrets Officer" {
		t.Errorf("setSecret on db: %+v", d)
	}
	if d := p.Decide(alice, ActionSecretsReadMetadata, Target{}); !d.Allowed || d.Role != "Key Vault Reader" {
		t.Errorf("list secrets: %+v", d)
	}
	if d := p.Decide(alice, ActionSetSecret, Target{Collection: "secrets", Name: "other"}); d.Allowed {
		t.Errorf("setSecret on other: %+v", d)
	}
}

func TestNeeded(t *testing.T) {
	p := compile(t)
	tests := []struct {
		action string
		want   []string
	}{
		{ActionGetSecret, []string{"Key Vault Secrets User", "Key Vault Certificate User", "Key Vault Secrets Officer", "Key Vault Administrator"}},
		{ActionSecretsReadMetadata, []string{"Key Vault Secrets User", "Key Vault Certificate User", "Key Vault Reader", "Key Vault Secrets Officer", "Key Vault Administrator"}},
		{ActionSetSecret, []string{"Key Vault Secrets Officer", "Key Vault Administrator"}},
		{ActionCertificatesRead, []string{"Key Vault Certificate User", "Key Vault Reader", "Key Vault Certificates Officer", "Key Vault Administrator"}},
		{ActionCertificatesCreate, []string{"Key Vault Certificates Officer", "Key Vault Administrator"}},
		{ActionCertificateContactsWrite, []string{"Key Vault Certificates Officer", "Key Vault Administrator"}},
		{ActionKeysRead, []string{"Key Vault Certificate User", "Key Vault Reader", "Key Vault Administrator"}},
		{"Microsoft.KeyVault/vaults/keys/sign/action", []string{"Key Vault Administrator"}},
		{"Microsoft.Storage/storageAccounts/read", nil},
	}
	for _, tc := range tests {
		d := p.Decide(alice, tc.action, Target{Collection: "secrets", Name: "x"})
		if d.Allowed || strings.Join(d.Needed, ", ") != strings.Join(tc.want, ", ") {
			t.Errorf("Decide(%s).Needed = %v, want %v", tc.action, d.Needed, tc.want)
		}
	}
	// Needed is the caller's to keep: changing it changes nothing.
	d := p.Decide(alice, ActionGetSecret, Target{})
	d.Needed[0] = "changed"
	if again := p.Decide(alice, ActionGetSecret, Target{}); again.Needed[0] != "Key Vault Secrets User" {
		t.Error("Needed shares the policy's table")
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name    string
		a       store.Assignment
		message string // "" when valid
	}{
		{"vault scope", assign(alice, idAdmin, "/"), ""},
		{"secret scope", assign(alice, idAdmin, "/secrets/db-1"), ""},
		{"certificate scope, any case", assign(alice, idAdmin, "/Certificates/WWW"), ""},
		{"role by name", assign(alice, "Secrets User", "/"), ""},
		{"unknown role id", assign(alice, "8b54135c-b56d-4d72-a534-26097cfdc8d8", "/"), `role "8b54135c-b56d-4d72-a534-26097cfdc8d8" is not a built-in Key Vault role`},
		{"empty role", assign(alice, "", "/"), "is not a built-in Key Vault role"},
		{"no principal", assign("    ", idAdmin, "/"), "no principal"},
		{"empty scope", assign(alice, idAdmin, ""), `scope ""`},
		{"no leading slash", assign(alice, idAdmin, "secrets/db"), "scope"},
		{"collection only", assign(alice, idAdmin, "/secrets"), "scope"},
		{"empty name", assign(alice, idAdmin, "/secrets/"), "scope"},
		{"trailing slash", assign(alice, idAdmin, "/secrets/db/"), "scope"},
		{"version", assign(alice, idAdmin, "/secrets/db/0123"), "scope"},
		{"keys scope", assign(alice, idAdmin, "/keys/db"), "scope"},
		{"bad name", assign(alice, idAdmin, "/secrets/db_1"), "scope"},
		{"long name", assign(alice, idAdmin, "/secrets/"+strings.Repeat("a", 128)), "scope"},
		{"double slash", assign(alice, idAdmin, "//"), "scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			good := assign(bob, idReader, "/")
			p, err := Compile([]store.Assignment{good, tc.a})
			if tc.message == "" {
				if err != nil || p == nil {
					t.Fatalf("Compile: %v", err)
				}
				if len(p.grants[alice]) != 1 || len(p.grants[bob]) != 1 {
					t.Errorf("compiled grants: %d for alice, %d for bob; want 1 each", len(p.grants[alice]), len(p.grants[bob]))
				}
				return
			}
			if err == nil || p != nil {
				t.Fatalf("Compile = %v, %v; want an error", p, err)
			}
			if !strings.Contains(err.Error(), tc.message) || !strings.Contains(err.Error(), tc.a.ID) {
				t.Errorf("error %q lacks %q or the assignment ID %q", err, tc.message, tc.a.ID)
			}
			if CheckAssignment(tc.a) == nil {
				t.Error("CheckAssignment accepts what Compile refuses")
			}
		})
	}
}

func TestDecideAllowedDoesNotAllocate(t *testing.T) {
	p := compile(t, assign(alice, idReader, "/"), assign(alice, idCertUser, "/certificates/www"))
	target := Target{Vault: "kv1", Collection: "secrets", Name: "WWW"}
	allocs := testing.AllocsPerRun(100, func() {
		if !p.Decide(alice, ActionGetSecret, target).Allowed {
			t.Fatal("denied")
		}
	})
	if allocs != 0 {
		t.Errorf("an allowed Decide allocates %.0f times", allocs)
	}
}

func TestDenialMessage(t *testing.T) {
	got := DenialMessage(alice, ActionGetSecret, "/vaults/kv1/secrets/db")
	want := "Caller is not authorized to perform action on resource.\r\n" +
		"If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n" +
		"Caller: oid=" + alice + "\r\n" +
		"Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\n" +
		"Resource: '/vaults/kv1/secrets/db'\r\n" +
		"Assignment: (not found)\r\n" +
		"DenyAssignmentId: null\r\n" +
		"DecisionReason: 'DeniedWithNoValidRBAC' \r\n"
	if got != want {
		t.Errorf("DenialMessage =\n%q\nwant\n%q", got, want)
	}
}

func TestNeededRolesHint(t *testing.T) {
	p := compile(t, assign(alice, idSecretsUser, "/secrets/db"))
	d := p.Decide(bob, ActionGetSecret, Target{Collection: "secrets", Name: "db"})
	if got, want := NeededRolesHint(d), "A role that grants it: Key Vault Secrets User, Key Vault Certificate User, Key Vault Secrets Officer, Key Vault Administrator"; got != want {
		t.Errorf("hint = %q, want %q", got, want)
	}
	d = p.Decide(alice, ActionSecretsReadMetadata, Target{})
	if got, want := NeededRolesHint(d), "A role that grants it, assigned at vault scope (/): Key Vault Secrets User, "; !strings.HasPrefix(got, want) {
		t.Errorf("vault-level hint = %q, want prefix %q", got, want)
	}
	if got := NeededRolesHint(p.Decide(alice, ActionGetSecret, Target{Collection: "secrets", Name: "db"})); got != "" {
		t.Errorf("hint for an allowed decision = %q", got)
	}
	if got := NeededRolesHint(p.Decide(alice, "Other/action", Target{})); got != "" {
		t.Errorf("hint for an action no role grants = %q", got)
	}
}

func BenchmarkDecide(b *testing.B) {
	var as []store.Assignment
	for i := range 1000 {
		oid := strings.Repeat("0", 8) + "-0000-0000-0000-" + strings.Repeat("0", 8) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26)) + "x"
		as = append(as, assign(oid, idReader, "/"), assign(oid, idSecretsUser, "/secrets/s"+string(rune('a'+i%26))))
	}
	as = append(as, assign(alice, idReader, "/"), assign(alice, idCertUser, "/certificates/www"), assign(alice, idSecretsUser, "/secrets/db"))
	p := compile(b, as...)
	target := Target{Vault: "kv1", Collection: "secrets", Name: "db"}
	b.Run("allowed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !p.Decide(alice, ActionGetSecret, target).Allowed {
				b.Fatal("denied")
			}
		}
	})
	b.Run("denied", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if p.Decide(alice, ActionSetSecret, target).Allowed {
				b.Fatal("allowed")
			}
		}
	})
}
