package rbac

import (
	"strings"
	"testing"
)

func TestRolesTable(t *testing.T) {
	want := []struct {
		name, id string
		actions  []string
	}{
		{"Key Vault Administrator", "00482a5a-887f-4fb3-b363-3b7fe8e74483", []string{"Microsoft.KeyVault/vaults/*"}},
		{"Key Vault Certificates Officer", "a4417e6f-fecd-4de8-b567-7b0420556985", []string{"Microsoft.KeyVault/vaults/certificatecas/*", "Microsoft.KeyVault/vaults/certificates/*", "Microsoft.KeyVault/vaults/certificatecontacts/write"}},
		{"Key Vault Certificate User", "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", []string{"Microsoft.KeyVault/vaults/certificates/read", "Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action", "Microsoft.KeyVault/vaults/keys/read"}},
		{"Key Vault Secrets Officer", "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", []string{"Microsoft.KeyVault/vaults/secrets/*"}},
		{"Key Vault Secrets User", "4633458b-17de-408a-b874-0445c86b69e6", []string{"Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}},
		{"Key Vault Reader", "21090545-7ca7-4776-b22c-e363652d74d2", []string{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}},
		{"tegata Renewal Reader", "7e6a7a00-72e0-4e00-8000-000000000001", []string{"tegata/renewals/read"}},
		{"tegata Renewal Issuer", "7e6a7a00-72e0-4e00-8000-000000000002", []string{"tegata/renewals/read", "tegata/renewals/issue/action"}},
		{"tegata Renewal Revoker", "7e6a7a00-72e0-4e00-8000-000000000003", []string{"tegata/renewals/read", "tegata/renewals/revoke/action"}},
	}
	got := Roles()
	if len(got) != len(want) {
		t.Fatalf("%d roles, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.ID != w.id || strings.Join(g.DataActions, " ") != strings.Join(w.actions, " ") {
			t.Errorf("role %d = %+v, want %s %s %v", i, g, w.name, w.id, w.actions)
		}
	}
	// Roles returns copies: changing them changes nothing.
	got[0].DataActions[0] = "nothing"
	got[0].Name = "x"
	if again := Roles(); again[0].DataActions[0] != "Microsoft.KeyVault/vaults/*" || again[0].Name != "Key Vault Administrator" {
		t.Error("Roles shares its table with callers")
	}
}

func TestActions(t *testing.T) {
	want := []string{
		"Microsoft.KeyVault/vaults/secrets/delete",
		"Microsoft.KeyVault/vaults/secrets/backup/action",
		"Microsoft.KeyVault/vaults/secrets/purge/action",
		"Microsoft.KeyVault/vaults/secrets/update/action",
		"Microsoft.KeyVault/vaults/secrets/recover/action",
		"Microsoft.KeyVault/vaults/secrets/restore/action",
		"Microsoft.KeyVault/vaults/secrets/readMetadata/action",
		"Microsoft.KeyVault/vaults/secrets/getSecret/action",
		"Microsoft.KeyVault/vaults/secrets/setSecret/action",
		"Microsoft.KeyVault/vaults/certificates/delete",
		"Microsoft.KeyVault/vaults/certificates/read",
		"Microsoft.KeyVault/vaults/certificates/backup/action",
		"Microsoft.KeyVault/vaults/certificates/purge/action",
		"Microsoft.KeyVault/vaults/certificates/update/action",
		"Microsoft.KeyVault/vaults/certificates/create/action",
		"Microsoft.KeyVault/vaults/certificates/import/action",
		"Microsoft.KeyVault/vaults/certificates/recover/action",
		"Microsoft.KeyVault/vaults/certificates/restore/action",
		"Microsoft.KeyVault/vaults/certificatecas/read",
		"Microsoft.KeyVault/vaults/certificatecas/write",
		"Microsoft.KeyVault/vaults/certificatecas/delete",
		"Microsoft.KeyVault/vaults/certificatecontacts/write",
		"Microsoft.KeyVault/vaults/keys/read",
		"tegata/renewals/read",
		"tegata/renewals/issue/action",
		"tegata/renewals/revoke/action",
	}
	got := Actions()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Actions() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ActionGetSecret != want[7] || ActionSetSecret != want[8] || ActionCertificatesImport != want[15] || ActionKeysRead != want[22] {
		t.Error("an action constant differs from A.12")
	}
}

func TestLookupRole(t *testing.T) {
	tests := []struct {
		in, want string // want "" when unknown
	}{
		{"Key Vault Secrets User", "Key Vault Secrets User"},
		{"key vault secrets user", "Key Vault Secrets User"},
		{"Secrets User", "Key Vault Secrets User"},
		{"secrets-user", "Key Vault Secrets User"},
		{"SECRETS_USER", "Key Vault Secrets User"},
		{"  Secrets   User ", "Key Vault Secrets User"},
		{"key-vault-secrets-user", "Key Vault Secrets User"},
		{"4633458b-17de-408a-b874-0445c86b69e6", "Key Vault Secrets User"},
		{"4633458B-17DE-408A-B874-0445C86B69E6", "Key Vault Secrets User"},
		{"/subscriptions/0000/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6", "Key Vault Secrets User"},
		{"Administrator", "Key Vault Administrator"},
		{"00482a5a-887f-4fb3-b363-3b7fe8e74483", "Key Vault Administrator"},
		{"certificates-officer", "Key Vault Certificates Officer"},
		{"Certificate User", "Key Vault Certificate User"},
		{"db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", "Key Vault Certificate User"},
		{"Secrets Officer", "Key Vault Secrets Officer"},
		{"reader", "Key Vault Reader"},
		{"21090545-7ca7-4776-b22c-e363652d74d2", "Key Vault Reader"},
		{"renewal-issuer", "tegata Renewal Issuer"},
		{"tegata Renewal Revoker", "tegata Renewal Revoker"},
		{"Renewal Reader", "tegata Renewal Reader"},
		{"a4417e6f-fecd-4de8-b567-7b0420556985", "Key Vault Certificates Officer"},
		{"b86a8fe4-44ce-4948-aee5-eccb2c155cd7", "Key Vault Secrets Officer"},
		{"", ""},
		{"Key Vault", ""},
		{"Owner", ""},
		{"Certificates User", ""}, // Azure's name is "Certificate User"
		{"Key Vault Crypto Officer", ""},
		{"8b54135c-b56d-4d72-a534-26097cfdc8d8", ""}, // Data Access Administrator: not in v1
		{"4633458b-17de-408a-b874-0445c86b69e", ""},
		{"\u0130/roleDefinitions/4633458b", ""}, // a lower-casing that changes length
	}
	for _, tc := range tests {
		r, ok := LookupRole(tc.in)
		if ok != (tc.want != "") || r.Name != tc.want {
			t.Errorf("LookupRole(%q) = %q, %v; want %q", tc.in, r.Name, ok, tc.want)
		}
		if ok && len(r.DataActions) == 0 {
			t.Errorf("LookupRole(%q) has no data actions", tc.in)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"Microsoft.KeyVault/vaults/*", ActionGetSecret, true},
		{"Microsoft.KeyVault/vaults/*", ActionKeysRead, true},
		{"Microsoft.KeyVault/vaults/*", "Microsoft.KeyVault/vaults", false},
		{"Microsoft.KeyVault/vaults/*", "Microsoft.KeyVault/managedHsms/keys/read", false},
		{"Microsoft.KeyVault/vaults/*/read", ActionCertificatesRead, true},
		{"Microsoft.KeyVault/vaults/*/read", ActionKeysRead, true},
		{"Microsoft.KeyVault/vaults/*/read", ActionCertificateCAsRead, true},
		// The Reader subtlety: */read does not cover readMetadata/action.
		{"Microsoft.KeyVault/vaults/*/read", ActionSecretsReadMetadata, false},
		{"Microsoft.KeyVault/vaults/*/read", ActionGetSecret, false},
		{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/a/b/c/read", true},
		{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/read", false},
		{"Microsoft.KeyVault/vaults/secrets/*", ActionSecretsReadMetadata, true},
		{"Microsoft.KeyVault/vaults/secrets/*", ActionCertificatesRead, false},
		{"Microsoft.KeyVault/vaults/certificates/*", ActionCertificatesImport, true},
		{"Microsoft.KeyVault/vaults/certificates/*", ActionCertificateCAsRead, false}, // certificatecas is not certificates/
		{"Microsoft.KeyVault/vaults/certificatecas/*", ActionCertificateCAsDelete, true},
		// Case-insensitive both ways.
		{"microsoft.keyvault/VAULTS/*/READ", ActionCertificatesRead, true},
		{"Microsoft.KeyVault/vaults/secrets/getsecret/action", ActionGetSecret, true},
		{ActionGetSecret, strings.ToUpper(ActionGetSecret), true},
		// Exact patterns.
		{ActionGetSecret, ActionGetSecret, true},
		{ActionGetSecret, ActionSetSecret, false},
		{"Microsoft.KeyVault/vaults/secrets", ActionSecretsDelete, false},
		{ActionSecretsDelete, "Microsoft.KeyVault/vaults/secrets", false},
		// Several stars and backtracking.
		{"*", "", true},
		{"*", ActionKeysRead, true},
		{"**", "x", true},
		{"", "", true},
		{"", "x", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "abbbcbc", true},
		{"a*b*c", "aXbYd", false},
		{"*/read", ActionKeysRead, true},
		{"*/read", ActionSecretsReadMetadata, false},
		{"Microsoft.KeyVault/*/secrets/*/action", ActionGetSecret, true},
		{"Microsoft.KeyVault/*/secrets/*/action", ActionSecretsDelete, false},
	}
	for _, tc := range tests {
		if got := Match(tc.pattern, tc.action); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.action, got, tc.want)
		}
	}
}
