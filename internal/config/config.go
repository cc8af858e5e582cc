// Package config reads tegata.yaml, applies TEGATA_* environment variables over it, and
// validates the result. Flags are applied by package cli, last, so the order of
// precedence is: flags > environment > file > defaults.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tegata-project/tegata/internal/imds"
	"github.com/tegata-project/tegata/internal/pki"
)

// Config is the whole of tegata.yaml: one section per part.
type Config struct {
	// DataDir holds state: the generated instance's vmId, later keys and databases.
	DataDir string      `yaml:"data_dir" json:"data_dir"`
	Log     LogConfig   `yaml:"log" json:"log"`
	IMDS    imds.Config `yaml:"imds" json:"imds"`
	PKI     PKIConfig   `yaml:"pki" json:"pki"`
	// Identity issues managed-identity tokens from the metadata service.
	Identity IdentityConfig `yaml:"identity" json:"identity"`
	// Store is where the vault keeps its objects, assignments and audit log.
	Store StoreConfig `yaml:"store" json:"store"`
	// Vault is the Key Vault-compatible vault (docs/vault.md).
	Vault VaultConfig `yaml:"vault" json:"vault"`
	// Renew is the ACME renewal service (docs/renew.md).
	Renew RenewConfig `yaml:"renew" json:"renew"`
	// TimeTravel lets the control API move the service's clock forward (POST
	// /admin/clock), so scheduled events, documents and planned Sub CA rotations can be
	// tested without waiting. Never in production: the PKI would issue and persist
	// certificates for the future.
	TimeTravel bool `yaml:"time_travel" json:"time_travel"`
	// MemoryLimit is the Go runtime's soft memory limit: "auto" (sized from the
	// inventory, see docs/imds.md), "off", or a size such as 512MiB. GOMEMLIMIT, when
	// set, wins.
	MemoryLimit string `yaml:"memory_limit" json:"memory_limit"`
}

// PKIConfig is the attestation PKI: where its keys come from and its rotation plan.
type PKIConfig struct {
	// Enabled makes the metadata service sign attested documents with tegata's PKI,
	// kept (keys encrypted) in the store, under pki/.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// MasterKeyFile holds the 32-byte key that encrypts the PKI's private keys (mode
	// 0600). Empty: $TEGATA_MASTER_KEY, else <data_dir>/master.key, generated.
	MasterKeyFile string `yaml:"master_key_file" json:"master_key_file"`
	// Plan is the hierarchy and its rotation schedule (docs/attestation.md).
	Plan pki.Plan `yaml:"plan" json:"plan"`
}

// IdentityConfig is the managed-identity token issuer. Its signing key is kept in
// <data_dir>/identity, encrypted under the same master key as the PKI's.
type IdentityConfig struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Lifetime of a token; Entra ID's managed-identity tokens live about 24 hours.
	Lifetime time.Duration `yaml:"lifetime" json:"lifetime"`
	// KeyRotation is how long a signing key signs before the next takes over; the old
	// key stays in the JWKS until its last token expires.
	KeyRotation time.Duration `yaml:"key_rotation" json:"key_rotation"`
}

// StoreConfig selects the database behind the vault.
type StoreConfig struct {
	// Driver is sqlite (embedded, one process) or postgres (several replicas).
	Driver string `yaml:"driver" json:"driver"`
	// Path is the SQLite file; empty: <data_dir>/tegata.db.
	Path string `yaml:"path" json:"path"`
	// DSN is the PostgreSQL connection string, e.g.
	// postgres://tegata@db.example:5432/tegata?sslmode=verify-full. Put the password
	// in PGPASSWORD or ~/.pgpass rather than here.
	DSN string `yaml:"dsn" json:"dsn"`
}

// VaultConfig is the Key Vault-compatible vault.
type VaultConfig struct {
	// Enabled runs the vault inside `tegata up`.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Listen is the HTTPS address; Key Vault clients refuse plain HTTP.
	Listen string `yaml:"listen" json:"listen"`
	// Name is the vault served at any host that does not name another (an IP, localhost).
	Name string `yaml:"name" json:"name"`
	// Domain is the DNS suffix of vault hosts (<name>.<domain>); the challenge resource,
	// which tokens must name as audience, is https://<domain>.
	Domain string `yaml:"domain" json:"domain"`
	// Vaults are further vault names served at <name>.<domain>.
	Vaults []string `yaml:"vaults" json:"vaults"`
	// TLSCertFile and TLSKeyFile give the server certificate; empty: one issued by
	// tegata's local TLS CA (<data_dir>/tls-ca.pem) for localhost, 127.0.0.1 and *.<domain>.
	TLSCertFile string `yaml:"tls_cert_file" json:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file" json:"tls_key_file"`
	// RecoverableDays keeps deleted objects recoverable this long (7-90); 0 turns soft
	// delete off.
	RecoverableDays int `yaml:"recoverable_days" json:"recoverable_days"`
	// PurgeProtection refuses purges until the retention ends.
	PurgeProtection bool `yaml:"purge_protection" json:"purge_protection"`
	// PFXEncoding of the secret behind certificates: legacy (3DES/SHA-1, which old
	// Windows and .NET read) or modern (AES-256/SHA-256).
	PFXEncoding string `yaml:"pfx_encoding" json:"pfx_encoding"`
	// Issuer is the token issuer the vault trusts. Empty: tegata's own managed-identity
	// issuer (identity section), in the same process.
	Issuer VaultIssuerConfig `yaml:"issuer" json:"issuer"`
	// PreviousMasterKeyFiles open values sealed under earlier master keys, until
	// `tegata vault rewrap` moves them to the current one.
	PreviousMasterKeyFiles []string `yaml:"previous_master_key_files" json:"previous_master_key_files"`
}

// VaultIssuerConfig is an OpenID issuer whose tokens the vault accepts.
type VaultIssuerConfig struct {
	// URL is the exact iss claim, e.g. https://sts.windows.net/<tenant>/.
	URL string `yaml:"url" json:"url"`
	// JWKSURL is where its signing keys are published.
	JWKSURL string `yaml:"jwks_url" json:"jwks_url"`
	// Tenant is the tid tokens must carry and the challenge's tenant.
	Tenant string `yaml:"tenant" json:"tenant"`
	// Authority is the challenge's authorization URL without the tenant, e.g.
	// https://login.microsoftonline.com.
	Authority string `yaml:"authority" json:"authority"`
}

// RenewConfig is the ACME renewal service: one ACME account, the DNS providers that
// answer DNS-01, the certificates to keep current and the webhooks to tell.
type RenewConfig struct {
	// Enabled runs the service inside `tegata up` (it needs a directory).
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Directory is the CA's ACME directory URL, e.g.
	// https://acme-v02.api.letsencrypt.org/directory.
	Directory string `yaml:"directory" json:"directory"`
	// Email is the account's contact address.
	Email string `yaml:"email" json:"email"`
	// CAFile adds a CA certificate (PEM) that the directory's TLS chains to (a private CA).
	CAFile string `yaml:"ca_file" json:"ca_file"`
	// EABKeyID and EABHMACKey bind the account to an external account (ZeroSSL,
	// Google Trust Services, ...). HS256.
	EABKeyID   string `yaml:"eab_key_id" json:"eab_key_id"`
	EABHMACKey string `yaml:"eab_hmac_key" json:"-"`
	// Tick is the time between renewal decisions (1m to 60m).
	Tick time.Duration `yaml:"tick" json:"tick"`
	// Resolvers are asked for the challenge records before answering (host:port);
	// empty: every authoritative name server of the zone.
	Resolvers []string `yaml:"resolvers" json:"resolvers"`
	// PropagationTimeout bounds the wait for a record to be visible.
	PropagationTimeout time.Duration `yaml:"propagation_timeout" json:"propagation_timeout"`
	// HTTP01Listen is where http-01 challenges are answered.
	HTTP01Listen string `yaml:"http01_listen" json:"http01_listen"`
	// DNSProviders are named instances: type is a provider name (rfc2136,
	// cloudflare, azuredns, route53, gcloud, httpreq, exec, challtestsrv) and
	// config its keys (docs/renew.md).
	DNSProviders []DNSProviderConfig `yaml:"dns_providers" json:"dns_providers"`
	// Certificates are kept current in the vault.
	Certificates []CertificateConfig `yaml:"certificates" json:"certificates"`
	// Webhooks are told of issues, renewals, failures and expiry warnings.
	Webhooks []WebhookConfig `yaml:"webhooks" json:"webhooks"`
	// VaultAuth is how the service authenticates to the vault: with client_id
	// set, as that service principal (client credentials from Microsoft Entra ID
	// or the authority at authority_host); else with the managed-identity token of
	// the metadata service (tegata's, or the Azure VM's).
	VaultAuth VaultAuthConfig `yaml:"vault_auth" json:"vault_auth"`
}

// VaultAuthConfig is a service principal's client credentials for the vault:
// a secret or a certificate, each read from a file (mode 0600 or stricter),
// never written in the configuration itself.
type VaultAuthConfig struct {
	// TenantID is the directory (tenant) ID of the service principal.
	TenantID string `yaml:"tenant_id" json:"tenant_id"`
	// ClientID is its application (client) ID. Empty: the managed identity.
	ClientID string `yaml:"client_id" json:"client_id"`
	// ClientSecretFile holds the client secret (its value, not its ID), alone.
	ClientSecretFile string `yaml:"client_secret_file" json:"client_secret_file"`
	// ClientCertificateFile holds a certificate registered on the application
	// and its RSA private key, PEM (unencrypted) or PKCS#12 without a password.
	ClientCertificateFile string `yaml:"client_certificate_file" json:"client_certificate_file"`
	// AuthorityHost is the token authority: https://login.microsoftonline.com/
	// (Azure's public cloud), https://login.microsoftonline.us/ (US Government),
	// https://login.chinacloudapi.cn/ (China), or another OAuth2 authority that
	// answers Entra ID's tenant discovery and token endpoints.
	AuthorityHost string `yaml:"authority_host" json:"authority_host"`
	// ClientSecret is refused: it is here only so that a secret written in the
	// file (or TEGATA_RENEW_VAULT_AUTH_CLIENT_SECRET) gets an error that says
	// what to do instead.
	ClientSecret string `yaml:"client_secret,omitempty" json:"-"`
}

// DefaultAuthorityHost is Microsoft Entra ID's authority in Azure's public cloud.
const DefaultAuthorityHost = "https://login.microsoftonline.com/"

// maxCredentialFileBytes bounds a client secret or certificate file.
const maxCredentialFileBytes = 64 << 10

// validate checks the fields of a service principal, without reading its files
// (ReadClientSecret and ReadClientCertificate do, when the service starts).
func (a *VaultAuthConfig) validate() error {
	const p = "renew.vault_auth."
	if a.ClientSecret != "" {
		return fmt.Errorf(p + "client_secret: a secret is not read from the configuration or the environment: write it alone in a file (chmod 600) and give that file's path as " + p + "client_secret_file")
	}
	if u, err := url.Parse(a.AuthorityHost); a.AuthorityHost != "" && (err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil) {
		return fmt.Errorf(p+"authority_host: %q: give the authority's https URL, such as %s (the default), https://login.microsoftonline.us/ or https://login.chinacloudapi.cn/", a.AuthorityHost, DefaultAuthorityHost)
	}
	if a.ClientID == "" {
		for _, f := range []struct{ name, value string }{{"tenant_id", a.TenantID}, {"client_secret_file", a.ClientSecretFile}, {"client_certificate_file", a.ClientCertificateFile}} {
			if f.value != "" {
				return fmt.Errorf(p+"client_id: empty while %s is set: give the service principal's application (client) ID, or remove %s to use the managed identity", p+f.name, p+f.name)
			}
		}
		return nil
	}
	if strings.TrimSpace(a.ClientID) != a.ClientID || strings.ContainsAny(a.ClientID, " /?#") {
		return fmt.Errorf(p+"client_id: %q: give the application (client) ID, a GUID such as 00000000-0000-0000-0000-000000000000", a.ClientID)
	}
	if a.TenantID == "" {
		return fmt.Errorf(p + "tenant_id: empty with client_id set: give the directory (tenant) ID the service principal belongs to")
	}
	for _, r := range a.TenantID {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return fmt.Errorf(p+"tenant_id: %q: give the tenant's ID (a GUID) or its domain (contoso.onmicrosoft.com); letters, digits, '-' and '.' only", a.TenantID)
		}
	}
	switch {
	case a.ClientSecretFile == "" && a.ClientCertificateFile == "":
		return fmt.Errorf(p + "client_secret_file and client_certificate_file: both empty with client_id set: give the file holding the client secret, or the PEM file holding the client certificate and its key")
	case a.ClientSecretFile != "" && a.ClientCertificateFile != "":
		return fmt.Errorf(p + "client_secret_file and client_certificate_file: both set: give one (the certificate, when the application has one, is the stronger credential)")
	}
	return nil
}

// ReadClientSecret returns the secret held by client_secret_file, with
// surrounding white space (a trailing newline) removed. The file must be
// readable and not readable by group or others.
func (a *VaultAuthConfig) ReadClientSecret() (string, error) {
	b, err := readCredentialFile("renew.vault_auth.client_secret_file", a.ClientSecretFile, "the client secret")
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("renew.vault_auth.client_secret_file: %s is empty: write the client secret's value in it", a.ClientSecretFile)
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("renew.vault_auth.client_secret_file: %s has more than one line: write the client secret's value alone in it", a.ClientSecretFile)
	}
	return s, nil
}

// ReadClientCertificate returns the content of client_certificate_file (a
// certificate and its private key). The file must be readable and not readable
// by group or others.
func (a *VaultAuthConfig) ReadClientCertificate() ([]byte, error) {
	return readCredentialFile("renew.vault_auth.client_certificate_file", a.ClientCertificateFile, "a private key")
}

// readCredentialFile reads a file holding a credential, refusing one that group
// or others may read (as the master key file is refused).
func readCredentialFile(field, path, holds string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: give a file that the user tegata runs as can read", field, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %s is not a regular file", field, path)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: %s has mode %04o and holds %s: run chmod 600 %s (in Kubernetes, mount the secret with defaultMode: 0400)", field, path, st.Mode().Perm(), holds, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCredentialFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", field, path, err)
	}
	if len(b) > maxCredentialFileBytes {
		return nil, fmt.Errorf("%s: %s is larger than %d bytes: is it the right file?", field, path, maxCredentialFileBytes)
	}
	return b, nil
}

// DNSProviderConfig is one DNS provider instance.
type DNSProviderConfig struct {
	Name   string            `yaml:"name" json:"name"`
	Type   string            `yaml:"type" json:"type"`
	Config map[string]string `yaml:"config" json:"-"`
}

// CertificateConfig is one managed certificate.
type CertificateConfig struct {
	Name        string   `yaml:"name" json:"name"`
	DNSNames    []string `yaml:"dns_names" json:"dns_names"`
	KeyType     string   `yaml:"key_type" json:"key_type"`
	KeySize     int      `yaml:"key_size" json:"key_size"`
	Curve       string   `yaml:"curve" json:"curve"`
	ReuseKey    bool     `yaml:"reuse_key" json:"reuse_key"`
	DNSProvider string   `yaml:"dns_provider" json:"dns_provider"`
	DNSAlias    string   `yaml:"dns_alias" json:"dns_alias"`
	HTTP01      bool     `yaml:"http01" json:"http01"`
	Profile     string   `yaml:"profile" json:"profile"`
	// PreferredChain picks the alternate chain whose top issuer has this common name.
	PreferredChain string `yaml:"preferred_chain" json:"preferred_chain"`
}

// WebhookConfig is one webhook.
type WebhookConfig struct {
	URL string `yaml:"url" json:"-"`
	// Format is auto (by host), tegata, slack or teams.
	Format string `yaml:"format" json:"format"`
}

// LogConfig selects log level and format.
type LogConfig struct {
	Level  string `yaml:"level" json:"level"`   // debug, info, warn, error
	Format string `yaml:"format" json:"format"` // auto (text on a terminal, else json), text, json
}

// DefaultFile is read when no --config is given and it exists in the working directory.
const DefaultFile = "tegata.yaml"

// maxFileBytes bounds the configuration file.
const maxFileBytes = 1 << 20

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		DataDir:  DefaultDataDir(),
		Log:      LogConfig{Level: "info", Format: "auto"},
		IMDS:     imds.DefaultConfig(),
		PKI:      PKIConfig{Enabled: true},
		Identity: IdentityConfig{Enabled: true, Lifetime: 24 * time.Hour, KeyRotation: 30 * 24 * time.Hour},
		Store:    StoreConfig{Driver: "sqlite"},
		Vault: VaultConfig{
			Enabled: true, Listen: "127.0.0.1:8256", Name: "kv1", Domain: "vault.azure.net",
			RecoverableDays: 90, PFXEncoding: "legacy",
		},
		Renew: RenewConfig{Tick: 15 * time.Minute, PropagationTimeout: 2 * time.Minute, HTTP01Listen: "127.0.0.1:8280",
			VaultAuth: VaultAuthConfig{AuthorityHost: DefaultAuthorityHost}},

		MemoryLimit: "auto",
	}
}

// DefaultDataDir is $XDG_DATA_HOME/tegata, or ~/.local/share/tegata, or ./.tegata.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "tegata")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "tegata")
	}
	return ".tegata"
}

// Load returns the defaults, overlaid by the file at path (or ./tegata.yaml when path is
// empty and that file exists), overlaid by environ's TEGATA_* variables. It does not
// validate: flags still have to be applied.
func Load(path string, environ []string) (Config, string, error) {
	cfg := Default()
	used := ""
	if path == "" {
		if _, err := os.Stat(DefaultFile); err == nil {
			path = DefaultFile
		}
	}
	if path != "" {
		if err := decodeFile(path, &cfg); err != nil {
			return cfg, path, err
		}
		used = path
	}
	if err := ApplyEnv(&cfg, environ); err != nil {
		return cfg, used, err
	}
	return cfg, used, nil
}

func decodeFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("config file %s does not exist: create it (tegata config print > %s) or drop --config", path, path)
		}
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return fmt.Errorf("config file %s: %d bytes is more than the %d allowed", path, len(data), maxFileBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %s: fix that line (tegata config print shows every setting)", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

// EnvPrefix starts every environment variable tegata reads.
const EnvPrefix = "TEGATA_"

// ApplyEnv sets each field named by a TEGATA_* variable. The name is the YAML path in
// upper case joined by "_": imds.rate_limit.enabled is TEGATA_IMDS_RATE_LIMIT_ENABLED.
// Lists are comma-separated. An unknown TEGATA_ name is an error, so a typo does not
// pass silently; TEGATA_REQUIRE_INTEGRATION, TEGATA_CONFIG and TEGATA_MASTER_KEY (a
// secret, read only where it is used) are not settings and are skipped.
func ApplyEnv(cfg *Config, environ []string) error {
	fields := map[string]reflect.Value{}
	collect(reflect.ValueOf(cfg).Elem(), "", fields)
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		key := strings.TrimPrefix(name, EnvPrefix)
		if key == "REQUIRE_INTEGRATION" || key == "CONFIG" || key == "MASTER_KEY" || strings.HasPrefix(key, "TEST_") {
			continue
		}
		f, ok := fields[key]
		if !ok {
			return fmt.Errorf("environment variable %s is not a tegata setting: see `tegata config print` for the names (TEGATA_ + the YAML path in upper case, joined by _)", name)
		}
		if err := setValue(f, val); err != nil {
			return fmt.Errorf("environment variable %s=%q: %v", name, val, err)
		}
	}
	return nil
}

func collect(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		name := strings.ToUpper(tag)
		if prefix != "" {
			name = prefix + "_" + name
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeOf(time.Time{}) {
			collect(fv, name, out)
			continue
		}
		out[name] = fv
	}
}

var durationType = reflect.TypeOf(time.Duration(0))

func setValue(f reflect.Value, s string) error {
	switch {
	case f.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("not a duration: write it like 2s or 500ms")
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(s)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not a boolean: use true or false")
		}
		f.SetBool(b)
	case f.Kind() == reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		f.SetInt(int64(n))
	case f.Kind() == reflect.Float64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		f.SetFloat(n)
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
		var parts []string
		for p := range strings.SplitSeq(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		f.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("this setting can only be set in the config file")
	}
	return nil
}

// Validate checks every section.
func (c *Config) Validate() error {
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q: use debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		return fmt.Errorf("log.format: %q: use auto, text or json", c.Log.Format)
	}
	if _, err := ParseSize(c.MemoryLimit); err != nil && c.MemoryLimit != "auto" && c.MemoryLimit != "off" {
		return fmt.Errorf("memory_limit: %q: use auto, off or a size such as 512MiB", c.MemoryLimit)
	}
	if c.Identity.Lifetime < 10*time.Minute || c.Identity.Lifetime > 7*24*time.Hour {
		return fmt.Errorf("identity.lifetime: %s: use 10m to 168h (Entra ID: about 24h)", c.Identity.Lifetime)
	}
	if c.Identity.KeyRotation < time.Hour {
		return fmt.Errorf("identity.key_rotation: %s: use at least 1h (default 720h)", c.Identity.KeyRotation)
	}
	if c.DataDir == "" {
		return fmt.Errorf("data_dir: empty: give a directory for tegata's state")
	}
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		if c.Store.DSN == "" {
			return fmt.Errorf("store.dsn: empty with store.driver postgres: give a connection string such as postgres://tegata@127.0.0.1:5432/tegata")
		}
	default:
		return fmt.Errorf("store.driver: %q: use sqlite or postgres", c.Store.Driver)
	}
	if d := c.Vault.RecoverableDays; d != 0 && (d < 7 || d > 90) {
		return fmt.Errorf("vault.recoverable_days: %d: use 7 to 90, or 0 to turn soft delete off", d)
	}
	if c.Vault.PFXEncoding != "legacy" && c.Vault.PFXEncoding != "modern" {
		return fmt.Errorf("vault.pfx_encoding: %q: use legacy or modern", c.Vault.PFXEncoding)
	}
	if c.Renew.Tick < time.Minute || c.Renew.Tick > time.Hour {
		return fmt.Errorf("renew.tick: %s: use 1m to 60m (default 15m)", c.Renew.Tick)
	}
	if c.Renew.Enabled && c.Renew.Directory == "" {
		return fmt.Errorf("renew.directory: empty with renew.enabled: give the CA's ACME directory URL")
	}
	if err := c.Renew.VaultAuth.validate(); err != nil {
		return err
	}
	if (c.Vault.TLSCertFile == "") != (c.Vault.TLSKeyFile == "") {
		return fmt.Errorf("vault.tls_cert_file and vault.tls_key_file: give both or neither")
	}
	return c.IMDS.Validate()
}

// YAML renders the effective configuration, as `tegata config print` shows it.
// Secrets (the EAB key, DNS provider credentials, webhook URLs, which often embed a
// token) are shown as "(set)"; the vault's client credentials are files, shown by
// path only.
func (c *Config) YAML() ([]byte, error) {
	shown := c.redacted()
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&shown); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// ParseSize reads a byte size written as a number with an optional KiB, MiB or GiB
// suffix.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if v, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = v, m
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return n * mult, nil
}

// redacted is a copy of c with secrets replaced by "(set)".
func (c *Config) redacted() Config {
	out := *c
	const set = "(set)"
	if out.Renew.EABHMACKey != "" {
		out.Renew.EABHMACKey = set
	}
	if out.Renew.VaultAuth.ClientSecret != "" {
		out.Renew.VaultAuth.ClientSecret = set // refused by Validate; never shown either way
	}
	out.Renew.DNSProviders = append([]DNSProviderConfig(nil), c.Renew.DNSProviders...)
	for i, p := range out.Renew.DNSProviders {
		m := map[string]string{}
		for k := range p.Config {
			m[k] = set
		}
		out.Renew.DNSProviders[i].Config = m
	}
	out.Renew.Webhooks = append([]WebhookConfig(nil), c.Renew.Webhooks...)
	for i := range out.Renew.Webhooks {
		out.Renew.Webhooks[i].URL = set
	}
	return out
}
