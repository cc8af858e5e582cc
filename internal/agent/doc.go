// Package agent keeps the certificates of a Linux machine current from a
// Key Vault-compatible vault, driven by the settings of Azure's Key Vault VM
// extension (KeyVaultForLinux and KeyVaultForWindows, schema forms v1 to v4).
//
// The agent is a client only: it gets managed-identity tokens over HTTP from a
// metadata service (tegata's or Azure's IMDS, or Azure Arc's) and reads
// certificate secrets over HTTPS from a vault (tegata's or Azure Key Vault).
// It imports none of tegata's server packages.
//
// The pieces, one per file:
//
//   - settings: ParseSettings reads the extension's settings file (the
//     settings object or a whole ARM extension resource), strictly, with
//     positions and JSON paths in every error, plus tegata's own options
//     under a top-level "tegata" key;
//   - plan: NewPlan turns Settings into the Targets of one platform: where
//     each file goes, with which owner, mode, ACLs and reload hooks;
//   - token and vault: TokenSource gets and caches managed-identity tokens;
//     VaultClient reads secrets, answering the vault's 401 challenge;
//   - material: ParseSecret and Candidate.Check refuse a version whose key
//     does not match its leaf, whose chain does not build, which is outside
//     its validity or not newer than what is installed;
//   - install: the extension's Linux layout (versioned files, a stable
//     symlink swapped atomically, retention), plus optional separate PEM and
//     PFX files; every file is written to a temporary name, synced and renamed;
//   - hooks: reload commands and signals run after an install, retried on
//     the next poll until they succeed;
//   - agent and run: Agent.SyncOnce is one pass over every certificate;
//     Agent.Run polls with jitter and backoff and gates readiness on the
//     initial sync when requireInitialSync is set;
//   - status, metrics and server: the status file, Prometheus metrics and
//     the /healthz, /readyz and /metrics endpoints.
//
// Windows certificate stores are understood by the settings parser and by
// NewPlan (so settings meant for Windows can be checked anywhere), but only
// the Linux installer exists: New refuses a Plan for Windows.
package agent
