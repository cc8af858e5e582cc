package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tegata-project/tegata/internal/config"
	"github.com/tegata-project/tegata/internal/pki"
	"github.com/tegata-project/tegata/internal/store"
	"github.com/tegata-project/tegata/internal/store/postgres"
	"github.com/tegata-project/tegata/internal/store/sqlite"
	"github.com/tegata-project/tegata/internal/vault"
	"github.com/tegata-project/tegata/internal/vault/auth"
)

// runningVault is a started vault: its address, store and how to wait for it.
type runningVault struct {
	vault *vault.Vault
	store store.Store
	addr  net.Addr
	caPEM string // path of the CA file clients trust; "" with a given certificate
	done  chan error
	api   atomic.Pointer[http.Handler] // the renewal service's API under /api/, once it runs
	// dashboard is the renewal service's web dashboard under /dashboard/, once it runs.
	dashboard atomic.Pointer[http.Handler]
}

// ServeHTTP sends /api/ and /dashboard/ to the renewal service's API and dashboard
// when it runs (Key Vault has no such paths) and everything else to the vault.
func (r *runningVault) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if strings.HasPrefix(req.URL.Path, "/api/") {
		if h := r.api.Load(); h != nil {
			(*h).ServeHTTP(w, req)
			return
		}
	}
	if req.URL.Path == "/dashboard" || strings.HasPrefix(req.URL.Path, "/dashboard/") {
		if h := r.dashboard.Load(); h != nil {
			(*h).ServeHTTP(w, req)
			return
		}
		// Key Vault has no such path either; say why there is nothing yet.
		w.Header().Set("Retry-After", "5")
		http.Error(w, "the renewal service's dashboard is not running: it starts with the renewal service (renew.enabled), after the configured certificates' first issuance", http.StatusServiceUnavailable)
		return
	}
	r.vault.ServeHTTP(w, req)
}

// tokenTrust is the issuer whose tokens the vault accepts.
type tokenTrust struct {
	keys      auth.KeySource
	issuer    string
	tenant    string
	authority string
}

// openStore opens the configured store: SQLite in <data-dir>/tegata.db unless told
// otherwise, or PostgreSQL.
func openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	switch cfg.Store.Driver {
	case "postgres":
		st, err := postgres.Open(ctx, cfg.Store.DSN)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return st, nil
	default:
		path := cfg.Store.Path
		if path == "" {
			path = filepath.Join(cfg.DataDir, "tegata.db")
		}
		st, err := sqlite.Open(path)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return st, nil
	}
}

// trustFromConfig is the issuer configured in vault.issuer, its keys fetched from its
// JWKS URL.
func trustFromConfig(cfg config.Config) (tokenTrust, error) {
	is := cfg.Vault.Issuer
	if is.URL == "" || is.JWKSURL == "" || is.Tenant == "" {
		return tokenTrust{}, &exitError{code: 2, err: errors.New("configuration: vault.issuer: give url, jwks_url and tenant (tegata up fills them with its own issuer)")}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	return tokenTrust{keys: auth.RemoteKeys(is.JWKSURL, client), issuer: is.URL, tenant: is.Tenant, authority: is.Authority}, nil
}

// startVault serves the vault over HTTPS, on st, until ctx ends. The caller owns st
// and closes it once done has delivered.
func startVault(ctx context.Context, cfg config.Config, st store.Store, master pki.MasterKey, trust tokenTrust, clock func() time.Time, log *slog.Logger) (*runningVault, error) {
	ln, err := listen("vault.listen", cfg.Vault.Listen)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*runningVault, error) {
		ln.Close()
		return nil, err
	}
	olds := []pki.MasterKey{}
	for _, f := range cfg.Vault.PreviousMasterKeyFiles {
		m, err := pki.LoadMasterKeyFile(f)
		if err != nil {
			return fail(&exitError{code: 2, err: fmt.Errorf("configuration: vault.previous_master_key_files: %w", err)})
		}
		olds = append(olds, m)
	}
	sealer, err := vault.NewSealer(master, olds...)
	if err != nil {
		return fail(err)
	}
	authority := trust.authority
	if authority == "" {
		authority = "https://login.microsoftonline.com"
	}
	resource := "https://" + cfg.Vault.Domain
	validator, err := auth.NewValidator(auth.Options{Issuer: trust.issuer, Tenant: trust.tenant, Resources: []string{resource}, Keys: trust.keys, Clock: clock})
	if err != nil {
		return fail(err)
	}
	v, err := vault.New(ctx, vault.Options{
		Name: cfg.Vault.Name, Domain: cfg.Vault.Domain, Vaults: cfg.Vault.Vaults, Resource: resource,
		Authority: auth.TenantAuthority(authority, trust.tenant), Tokens: validator,
		Store: st, Sealer: sealer, RecoverableDays: cfg.Vault.RecoverableDays, PurgeProtection: cfg.Vault.PurgeProtection,
		ModernPFX: cfg.Vault.PFXEncoding == "modern", Clock: clock, Log: log,
		// SQLite is the embedded store of one process: its reads can be cached.
		ReadCache: cfg.Store.Driver == "sqlite",
	})
	if err != nil {
		return fail(&exitError{code: 2, err: fmt.Errorf("configuration: %w", err)})
	}
	r := &runningVault{vault: v, store: st, addr: ln.Addr(), done: make(chan error, 1)}
	var cert tls.Certificate
	if cfg.Vault.TLSCertFile != "" {
		if cert, err = tls.LoadX509KeyPair(cfg.Vault.TLSCertFile, cfg.Vault.TLSKeyFile); err != nil {
			v.Close()
			return fail(&exitError{code: 2, err: fmt.Errorf("configuration: vault.tls_cert_file/tls_key_file: %w", err)})
		}
	} else {
		hosts := []string{"localhost", "127.0.0.1", "::1", "*." + cfg.Vault.Domain, cfg.Vault.Domain}
		if h, _, _ := net.SplitHostPort(cfg.Vault.Listen); h != "" && h != "127.0.0.1" && h != "localhost" {
			hosts = append(hosts, h)
		}
		if cert, _, err = pki.LocalTLS(cfg.DataDir, master, hosts, time.Now()); err != nil {
			v.Close()
			return fail(err)
		}
		r.caPEM = filepath.Join(cfg.DataDir, pki.TLSCAFile)
	}
	srv := &http.Server{
		Handler:           r,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go v.Maintain(ctx)
	go func() {
		err := serveTLSUntil(ctx, srv, ln)
		v.Close()
		r.done <- err
	}()
	log.Info("vault listening", "address", "https://"+r.addr.String(), "vault", cfg.Vault.Name, "store", cfg.Store.Driver)
	return r, nil
}

// grantDevAdmin gives principal the Key Vault Administrator role on the vault, so a
// first try in dev mode works. It is idempotent.
func grantDevAdmin(ctx context.Context, r *runningVault, vaultName, principal string) error {
	err := r.store.PutAssignment(ctx, store.Assignment{
		ID: "dev-admin-" + strings.ToLower(principal), Vault: vaultName, Principal: principal,
		RoleID: "00482a5a-887f-4fb3-b363-3b7fe8e74483", Scope: "/", Created: time.Now(),
	})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("granting the dev identity the Key Vault Administrator role: %w", err)
	}
	return r.vault.ReloadAssignments(ctx)
}

// serveTLSUntil serves srv on ln until it fails or ctx ends, then shuts it down
// gracefully (at most 10 s). A shutdown because ctx ended returns nil.
func serveTLSUntil(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
