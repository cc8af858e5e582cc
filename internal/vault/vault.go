// Package vault serves the Azure Key Vault data plane (secrets and
// certificates, shared/reference/vault-renewal-agent.md part A) so that stock
// Key Vault clients work against tegata: the challenge-based bearer
// authentication, Azure RBAC with the built-in roles, soft delete, paging,
// certificate create/import/merge, and the secret behind each certificate.
// Secret values and private keys are sealed (envelope encryption) before they
// reach the store; every access is audited.
package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tegata-project/tegata/internal/store"
	"github.com/tegata-project/tegata/internal/vault/auth"
	"github.com/tegata-project/tegata/internal/vault/rbac"
)

// Options configure a Vault.
type Options struct {
	// Name is the vault served when the request's host does not name one
	// (an IP address, localhost): "kv1" for https://127.0.0.1:8256/.
	Name string
	// Domain is the DNS suffix of vault hosts: a request to
	// https://kv2.<Domain>/ is for vault kv2. The challenge resource is
	// https://<Domain>.
	Domain string
	// Vaults lists the vault names served besides Name; others get 404.
	Vaults []string
	// Resource is the audience tokens must carry and the challenge's resource;
	// default https://<Domain>.
	Resource string
	// Authority is the challenge's authorization URL: the issuer's authority
	// with the tenant as its first path segment.
	Authority string
	// Tokens validates bearer tokens.
	Tokens *auth.Validator

	Store  store.Store
	Sealer *Sealer
	// RecoverableDays is the soft-delete retention (7 to 90); 0 turns soft
	// delete off (recovery level Purgeable).
	RecoverableDays int
	// PurgeProtection refuses purges (recovery level Recoverable).
	PurgeProtection bool
	// ModernPFX writes the PKCS#12 behind certificates with AES and SHA-256
	// instead of the 3DES/SHA-1 that old Windows and .NET read (Q6).
	ModernPFX bool
	// ReadCache keeps recently read secret versions (sealed) in memory for
	// up to a second. Turn it on when this process is the store's only
	// writer (the embedded SQLite store); with several replicas a read could
	// lag another replica's write by that second.
	ReadCache bool

	Clock func() time.Time
	Log   *slog.Logger
}

var vaultName = regexp.MustCompile(`^[A-Za-z](?:[A-Za-z0-9]|-(?:[A-Za-z0-9]))*$`)

// ValidVaultName reports whether s follows Azure's vault name rule: 3-24
// letters, digits and hyphens, starting with a letter, ending with a letter
// or digit, no consecutive hyphens.
func ValidVaultName(s string) bool { return len(s) >= 3 && len(s) <= 24 && vaultName.MatchString(s) }

// A Vault is the HTTP handler of the Key Vault data plane.
type Vault struct {
	opts      Options
	challenge string
	vaults    map[string]string // lower-case name -> name
	policy    atomic.Pointer[rbac.Policy]
	audit     *auditWriter
	cache     *readCache // nil when Options.ReadCache is off
	now       func() time.Time
	log       *slog.Logger
}

// New returns a Vault. Call Close to flush the audit log.
func New(ctx context.Context, o Options) (*Vault, error) {
	if !ValidVaultName(o.Name) {
		return nil, fmt.Errorf("vault: name %q: use 3-24 letters, digits and hyphens, starting with a letter", o.Name)
	}
	if o.Domain == "" {
		return nil, errors.New("vault: no domain: set vault.domain (e.g. vault.azure.net)")
	}
	if o.Resource == "" {
		o.Resource = "https://" + o.Domain
	}
	if o.Store == nil || o.Sealer == nil || o.Tokens == nil {
		return nil, errors.New("vault: a store, a sealer and a token validator are required")
	}
	if o.RecoverableDays != 0 && (o.RecoverableDays < 7 || o.RecoverableDays > 90) {
		return nil, fmt.Errorf("vault: recoverable_days %d: use 7 to 90, or 0 to turn soft delete off", o.RecoverableDays)
	}
	challenge, err := auth.Challenge(o.Authority, o.Resource)
	if err != nil {
		return nil, fmt.Errorf("vault: challenge: %w", err)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	v := &Vault{opts: o, challenge: challenge, vaults: map[string]string{}, now: o.Clock, log: o.Log}
	for _, n := range append([]string{o.Name}, o.Vaults...) {
		if !ValidVaultName(n) {
			return nil, fmt.Errorf("vault: vault name %q: use 3-24 letters, digits and hyphens, starting with a letter", n)
		}
		v.vaults[strings.ToLower(n)] = n
	}
	if err := v.ReloadAssignments(ctx); err != nil {
		return nil, err
	}
	v.audit = newAuditWriter(o.Store, o.Log)
	if o.ReadCache {
		v.cache = newReadCache()
	}
	return v, nil
}

// update runs fn in a store transaction and then drops the read cache, so no
// read after an acknowledged write sees the state before it.
func (v *Vault) update(ctx context.Context, fn func(store.Tx) error) error {
	err := v.opts.Store.Update(ctx, fn)
	v.cache.invalidate()
	return err
}

// Policy returns the role assignments in force, for parts served beside the
// vault (the renewal service's API) that authorise by the vault's roles.
func (v *Vault) Policy() *rbac.Policy { return v.policy.Load() }

// Challenge is the WWW-Authenticate value of the vault's 401 answers.
func (v *Vault) Challenge() string { return v.challenge }

// Tokens is the validator of the bearer tokens the vault accepts.
func (v *Vault) Tokens() *auth.Validator { return v.opts.Tokens }

// Close flushes the audit log.
func (v *Vault) Close() error { return v.audit.close() }

// ReloadAssignments reads the role assignments from the store; call it after
// changing them outside this Vault.
func (v *Vault) ReloadAssignments(ctx context.Context) error {
	as, err := v.opts.Store.Assignments(ctx, "")
	if err != nil {
		return fmt.Errorf("vault: reading role assignments: %w", err)
	}
	p, err := rbac.Compile(as)
	if err != nil {
		return fmt.Errorf("vault: role assignments: %w", err)
	}
	v.policy.Store(p)
	return nil
}

func (v *Vault) recoveryLevel() string {
	switch {
	case v.opts.RecoverableDays == 0:
		return "Purgeable"
	case v.opts.PurgeProtection && v.opts.RecoverableDays < 90:
		return "CustomizedRecoverable"
	case v.opts.PurgeProtection:
		return "Recoverable"
	case v.opts.RecoverableDays < 90:
		return "CustomizedRecoverable+Purgeable"
	default:
		return "Recoverable+Purgeable"
	}
}

// request is one authenticated call being served.
type request struct {
	w       http.ResponseWriter
	r       *http.Request
	vault   string // vault name
	base    string // https://host, the prefix of every id
	who     auth.Principal
	version string // api-version as sent
	id      string // x-ms-request-id
	action  string
	target  string
	status  int
}

// maxBody bounds request bodies: a 200 KiB PFX in base64 plus JSON.
const maxBody = 300 << 10

// ServeHTTP serves one Key Vault request. Authentication comes before
// everything else, as Key Vault clients expect (A.4).
func (v *Vault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{w: w, r: r, id: newID()}
	h := w.Header()
	h.Set("x-ms-request-id", rq.id)
	if c := r.Header.Get("x-ms-client-request-id"); c != "" && len(c) <= 256 {
		h.Set("x-ms-client-request-id", c)
	}
	h.Set("x-ms-keyvault-service-version", "tegata")
	defer v.record(rq)

	name, ok := v.vaultFor(r.Host)
	if !ok {
		// The names of the vaults served are not listed: the caller is not yet authenticated.
		rq.fail(&kvError{Status: http.StatusNotFound, Code: "VaultNotFound", Message: fmt.Sprintf("No vault is served at host %.100q; check the vault name in the URL", r.Host)})
		return
	}
	rq.vault = name
	rq.base = "https://" + r.Host
	if !v.authenticate(rq) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	rq.version = r.URL.Query().Get("api-version")
	if rq.version == "" {
		rq.fail(badParameter("The request is missing the api-version query parameter; add ?api-version=7.4 (or the version your client sends)"))
		return
	}
	if !validAPIVersion(rq.version) {
		rq.fail(badParameter("The api-version %.40q is malformed; use a form like 7.4, 7.6-preview.2 or 2025-07-01", rq.version))
		return
	}
	v.route(rq)
}

// vaultFor picks the vault from the request host: <name>.<domain> names a
// vault; any other host (an IP address, localhost) means the default vault.
func (v *Vault) vaultFor(host string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	label, rest, found := strings.Cut(host, ".")
	if found && rest == strings.ToLower(v.opts.Domain) {
		n, ok := v.vaults[label]
		return n, ok
	}
	return v.opts.Name, true
}

var apiVersionPattern = regexp.MustCompile(`^(?:\d{1,3}\.\d{1,3}|\d{4}-\d{2}-\d{2})(?:-preview(?:\.\d{1,3})?)?$`)

func validAPIVersion(s string) bool { return len(s) <= 32 && apiVersionPattern.MatchString(s) }

// authenticate validates the bearer token, answering 401 with the challenge
// when there is none or it is invalid.
func (v *Vault) authenticate(rq *request) bool {
	authz := rq.r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok || token == "" {
		rq.w.Header().Set("WWW-Authenticate", v.challenge)
		rq.fail(&kvError{Status: http.StatusUnauthorized, Code: "Unauthorized", Message: "AKV10000: Request is missing a Bearer or PoP token."})
		return false
	}
	who, err := v.opts.Tokens.Validate(rq.r.Context(), token)
	if err != nil {
		v.log.Info("vault: bearer token refused", "request_id", rq.id, "reason", err.Error(), "client", rq.r.RemoteAddr)
		rq.w.Header().Set("WWW-Authenticate", v.challenge)
		rq.fail(&kvError{Status: http.StatusUnauthorized, Code: "Unauthorized", Message: tokenMessage(err)})
		return false
	}
	rq.who = who
	return true
}

// tokenMessage words a validation failure the way Key Vault does, without
// echoing anything beyond what the token itself carried.
func tokenMessage(err error) string {
	switch {
	case errors.Is(err, auth.ErrExpired):
		return "AKV10032: Invalid issuer or token lifetime: the token is expired or not yet valid. Get a new token."
	case errors.Is(err, auth.ErrAudience):
		return messageFrom(err, "AKV10022: Invalid audience.")
	case errors.Is(err, auth.ErrIssuer):
		return "AKV10032: " + messageFrom(err, "Invalid issuer.")
	case errors.Is(err, auth.ErrTenant):
		return "AKV10032: Invalid tenant. The token was issued for another tenant than this vault's."
	default:
		return "AKV10013: Invalid token: the bearer token could not be validated."
	}
}

// messageFrom returns err's text from its first occurrence of from (the
// validator's wording, which quotes only what the token itself carried), or
// from when it does not occur.
func messageFrom(err error, from string) string {
	s := err.Error()
	if i := strings.Index(s, from); i >= 0 {
		return s[i:]
	}
	return from
}

// authorize checks that the caller may perform action on the target
// (collection "secrets" or "certificates" and a name, or the vault).
func (v *Vault) authorize(rq *request, action, collection, name string) bool {
	rq.action = action
	d := v.policy.Load().Decide(rq.who.ObjectID, action, rbac.Target{Vault: rq.vault, Collection: collection, Name: name})
	if d.Allowed {
		return true
	}
	resource := "/vaults/" + rq.vault
	if collection != "" {
		resource += "/" + collection + "/" + name
	}
	msg := rbac.DenialMessage(rq.who.ObjectID, action, resource)
	if hint := rbac.NeededRolesHint(d); hint != "" {
		msg += hint
	}
	rq.fail(forbidden("ForbiddenByRbac", "%s", msg))
	return false
}

func (rq *request) fail(e *kvError) {
	rq.status = e.Status
	writeError(rq.w, e)
}

func (rq *request) reply(status int, body []byte) {
	rq.status = status
	h := rq.w.Header()
	if body != nil {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	rq.w.WriteHeader(status)
	if body != nil {
		rq.w.Write(body)
	}
}

// internal logs err and answers 500 without detail.
func (v *Vault) internal(rq *request, err error) {
	v.log.Error("vault request failed", "request_id", rq.id, "method", rq.r.Method, "path", rq.r.URL.Path, "err", err)
	rq.fail(errInternal)
}

func (v *Vault) record(rq *request) {
	if rq.status == 0 {
		rq.status = http.StatusOK
	}
	target := rq.target
	if target == "" {
		target = rq.r.URL.Path
	}
	v.audit.add(store.AuditEntry{
		Time: v.now(), Vault: rq.vault, Principal: rq.who.ObjectID, App: rq.who.AppID,
		Action: rq.action, Target: target, Status: rq.status, RequestID: rq.id, Client: rq.r.RemoteAddr,
	})
}

// newID returns 32 random lower-case hex digits: versions and request ids.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewID returns a new random id of 32 lower-case hex digits.
func NewID() string { return newID() }
