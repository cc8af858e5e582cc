// Package rbac decides which data actions a principal may perform on a vault,
// with Azure's built-in Key Vault roles.
//
// The roles, their role-definition IDs and their dataActions are Azure's
// (reference A.12); the management-plane actions those roles also carry are
// ignored. A Policy compiled from role assignments answers, for a principal
// (the token's oid), a data action and a target, whether some assignment grants
// it: an assignment at vault scope ("/") covers every object of the vault, one
// at object scope ("/secrets/{name}", "/certificates/{name}") covers that
// object, and a certificate's scope also covers the secret and the key of the
// same name that back it.
package rbac

import (
	"slices"
	"strings"
)

// Data actions, as Azure names them (reference A.12).
const (
	ActionSecretsDelete       = "Microsoft.KeyVault/vaults/secrets/delete"
	ActionSecretsBackup       = "Microsoft.KeyVault/vaults/secrets/backup/action"
	ActionSecretsPurge        = "Microsoft.KeyVault/vaults/secrets/purge/action"
	ActionSecretsUpdate       = "Microsoft.KeyVault/vaults/secrets/update/action"
	ActionSecretsRecover      = "Microsoft.KeyVault/vaults/secrets/recover/action"
	ActionSecretsRestore      = "Microsoft.KeyVault/vaults/secrets/restore/action"
	ActionSecretsReadMetadata = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
	ActionGetSecret           = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
	ActionSetSecret           = "Microsoft.KeyVault/vaults/secrets/setSecret/action"

	ActionCertificatesDelete  = "Microsoft.KeyVault/vaults/certificates/delete"
	ActionCertificatesRead    = "Microsoft.KeyVault/vaults/certificates/read"
	ActionCertificatesBackup  = "Microsoft.KeyVault/vaults/certificates/backup/action"
	ActionCertificatesPurge   = "Microsoft.KeyVault/vaults/certificates/purge/action"
	ActionCertificatesUpdate  = "Microsoft.KeyVault/vaults/certificates/update/action"
	ActionCertificatesCreate  = "Microsoft.KeyVault/vaults/certificates/create/action"
	ActionCertificatesImport  = "Microsoft.KeyVault/vaults/certificates/import/action"
	ActionCertificatesRecover = "Microsoft.KeyVault/vaults/certificates/recover/action"
	ActionCertificatesRestore = "Microsoft.KeyVault/vaults/certificates/restore/action"

	ActionCertificateCAsRead       = "Microsoft.KeyVault/vaults/certificatecas/read"
	ActionCertificateCAsWrite      = "Microsoft.KeyVault/vaults/certificatecas/write"
	ActionCertificateCAsDelete     = "Microsoft.KeyVault/vaults/certificatecas/delete"
	ActionCertificateContactsWrite = "Microsoft.KeyVault/vaults/certificatecontacts/write"

	// ActionKeysRead is reserved: tegata serves no key operations yet.
	ActionKeysRead = "Microsoft.KeyVault/vaults/keys/read"

	// tegata's renewal service (its REST API and dashboard) accepts these as well
	// as the vault actions above, so that issuing and revoking can be granted
	// apart from each other and from the vault's data (see the tegata Renewal
	// roles). No Azure role grants them.
	ActionRenewalsRead   = "tegata/renewals/read"
	ActionRenewalsIssue  = "tegata/renewals/issue/action"
	ActionRenewalsRevoke = "tegata/renewals/revoke/action"
)

var actions = []string{
	ActionSecretsDelete, ActionSecretsBackup, ActionSecretsPurge, ActionSecretsUpdate, ActionSecretsRecover,
	ActionSecretsRestore, ActionSecretsReadMetadata, ActionGetSecret, ActionSetSecret,
	ActionCertificatesDelete, ActionCertificatesRead, ActionCertificatesBackup, ActionCertificatesPurge,
	ActionCertificatesUpdate, ActionCertificatesCreate, ActionCertificatesImport, ActionCertificatesRecover,
	ActionCertificatesRestore,
	ActionCertificateCAsRead, ActionCertificateCAsWrite, ActionCertificateCAsDelete, ActionCertificateContactsWrite,
	ActionKeysRead,
	ActionRenewalsRead, ActionRenewalsIssue, ActionRenewalsRevoke,
}

// Actions returns every data action tegata evaluates, in the order of
// reference A.12.
func Actions() []string { return slices.Clone(actions) }

// A Role is a built-in Key Vault role: its name, its Azure role-definition ID
// and the data actions it grants (patterns for Match).
type Role struct {
	Name        string
	ID          string
	DataActions []string
}

// roles are Azure's built-in Key Vault data roles (reference A.12), in its order.
var roles = []Role{
	{Name: "Key Vault Administrator", ID: "00482a5a-887f-4fb3-b363-3b7fe8e74483",
		DataActions: []string{"Microsoft.KeyVault/vaults/*"}},
	{Name: "Key Vault Certificates Officer", ID: "a4417e6f-fecd-4de8-b567-7b0420556985",
		DataActions: []string{"Microsoft.KeyVault/vaults/certificatecas/*", "Microsoft.KeyVault/vaults/certificates/*", "Microsoft.KeyVault/vaults/certificatecontacts/write"}},
	{Name: "Key Vault Certificate User", ID: "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
		DataActions: []string{"Microsoft.KeyVault/vaults/certificates/read", "Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action", "Microsoft.KeyVault/vaults/keys/read"}},
	{Name: "Key Vault Secrets Officer", ID: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
		DataActions: []string{"Microsoft.KeyVault/vaults/secrets/*"}},
	{Name: "Key Vault Secrets User", ID: "4633458b-17de-408a-b874-0445c86b69e6",
		DataActions: []string{"Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}},
	{Name: "Key Vault Reader", ID: "21090545-7ca7-4776-b22c-e363652d74d2",
		DataActions: []string{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}},

	// tegata's roles for its renewal service. They grant nothing in the vault
	// itself: an issuer cannot read a certificate's private key, a revoker cannot
	// issue. Their IDs are tegata's own (no Azure role has them).
	{Name: "tegata Renewal Reader", ID: "7e6a7a00-72e0-4e00-8000-000000000001",
		DataActions: []string{ActionRenewalsRead}},
	{Name: "tegata Renewal Issuer", ID: "7e6a7a00-72e0-4e00-8000-000000000002",
		DataActions: []string{ActionRenewalsRead, ActionRenewalsIssue}},
	{Name: "tegata Renewal Revoker", ID: "7e6a7a00-72e0-4e00-8000-000000000003",
		DataActions: []string{ActionRenewalsRead, ActionRenewalsRevoke}},
}

// Roles returns the built-in roles: Azure's, in the order of reference A.12
// (Administrator, Certificates Officer, Certificate User, Secrets Officer,
// Secrets User, Reader), then tegata's renewal roles (Reader, Issuer, Revoker).
func Roles() []Role {
	out := make([]Role, len(roles))
	for i, r := range roles {
		out[i] = r
		out[i].DataActions = slices.Clone(r.DataActions)
	}
	return out
}

// LookupRole finds a built-in role by its full name ("Key Vault Secrets User",
// "tegata Renewal Issuer"), its short name ("Secrets User", "secrets-user",
// "secrets_user", "renewal-issuer"), its
// role-definition ID, or an ARM role-definition path ending in that ID
// (".../providers/Microsoft.Authorization/roleDefinitions/<id>"). Names and IDs
// compare case-insensitively.
func LookupRole(s string) (Role, bool) {
	i := lookupRole(s)
	if i < 0 {
		return Role{}, false
	}
	r := roles[i]
	r.DataActions = slices.Clone(r.DataActions)
	return r, true
}

// lookupRole returns the index in roles of the role s names, or -1.
func lookupRole(s string) int {
	s = strings.TrimSpace(s)
	// ToLower keeps byte offsets only when it keeps the length.
	if lower := strings.ToLower(s); len(lower) == len(s) {
		if i := strings.LastIndex(lower, "/roledefinitions/"); i >= 0 {
			s = s[i+len("/roledefinitions/"):]
		}
	}
	for i, r := range roles {
		if strings.EqualFold(s, r.ID) {
			return i
		}
	}
	name := strings.Join(strings.Fields(strings.NewReplacer("-", " ", "_", " ").Replace(strings.ToLower(s))), " ")
	name = strings.TrimPrefix(strings.TrimPrefix(name, "key vault "), "tegata ")
	for i, r := range roles {
		short := strings.TrimPrefix(strings.TrimPrefix(r.Name, "Key Vault "), "tegata ")
		if name == strings.ToLower(short) {
			return i
		}
	}
	return -1
}

// Match reports whether the data-action pattern covers action. A "*" matches
// any run of characters, "/" included, and letters compare case-insensitively
// (ASCII), as in Azure: "Microsoft.KeyVault/vaults/*/read" covers
// certificates/read and keys/read, but not secrets/readMetadata/action.
func Match(pattern, action string) bool {
	// Greedy matching with backtracking to the last star: linear for one star,
	// O(len(pattern)·len(action)) at worst; allocation-free.
	p, a := 0, 0
	star, mark := -1, 0
	for a < len(action) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, a
			p++
		case p < len(pattern) && foldEq(pattern[p], action[a]):
			p++
			a++
		case star >= 0:
			p = star + 1
			mark++
			a = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func foldEq(x, y byte) bool {
	if x == y {
		return true
	}
	if 'A' <= x && x <= 'Z' {
		x += 'a' - 'A'
	}
	if 'A' <= y && y <= 'Z' {
		y += 'a' - 'A'
	}
	return x == y
}
