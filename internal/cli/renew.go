package cli

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/spf13/cobra"

	"github.com/tegata-project/tegata/internal/config"
	"github.com/tegata-project/tegata/internal/pki"
	"github.com/tegata-project/tegata/internal/renew"
	"github.com/tegata-project/tegata/internal/renew/acme"
	"github.com/tegata-project/tegata/internal/renew/dnsprov"
	"github.com/tegata-project/tegata/internal/renew/notify"
	"github.com/tegata-project/tegata/internal/renew/schedule"
	"github.com/tegata-project/tegata/internal/store"
	"github.com/tegata-project/tegata/internal/vault/auth"
	"github.com/tegata-project/tegata/internal/vault/rbac"
)

func newRenewCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "renew",
		Short: "The ACME renewal service: keep the vault's certificates current",
		Long: `The renewal service issues the certificates listed in renew.certificates from an ACME CA
(Let's Encrypt or any RFC 8555 CA) into the vault, with the private key generated inside
the vault (create, CSR, finalize, merge), and renews them when the CA's renewal window
(ARI) or two thirds of their lifetime says so. Failures never touch the current
certificate; they are retried with backoff and reported to renew.webhooks.

See docs/renew.md for the settings.`,
	}
	var imdsAddr, vaultURL, vaultCA, listenAddr, tlsCert, tlsKey string
	run := &cobra.Command{
		Use:   "run",
		Short: "Run the renewal service against a running vault",
		Long: `Run the renewal service against a running vault (tegata's, or an Azure Key Vault).

With --listen, it also serves its REST API (/api/) and web dashboard (/dashboard/) over
HTTPS, as tegata up and vault serve do on the vault's host. Callers authenticate with
tokens of the issuer in vault.issuer (url, jwks_url, tenant) for https://<vault.domain>, and
are authorised by the role assignments in the store (tegata vault role assign), re-read
every 15 seconds. The TLS certificate is --tls-cert/--tls-key, else vault.tls_cert_file,
else one from tegata's local TLS CA in the data directory (the vault's, tls-ca.pem).`,
		Example: `  tegata renew run --config tegata.yaml
  tegata renew run --vault https://127.0.0.1:8256 --imds http://127.0.0.1:8254
  TEGATA_VAULT_ISSUER_URL=https://sts.windows.net/<tenant>/ \
  TEGATA_VAULT_ISSUER_JWKS_URL=http://127.0.0.1:8255/identity/keys \
  TEGATA_VAULT_ISSUER_TENANT=<tenant> tegata renew run --listen 127.0.0.1:8257`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g, nil)
			if err != nil {
				return err
			}
			if cfg.Renew.Directory == "" {
				return &exitError{code: 2, err: errors.New("configuration: renew.directory is empty: give the CA's ACME directory URL")}
			}
			log := newLogger(cfg.Log, os.Stderr)
			st, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			if vaultCA == "" {
				vaultCA = filepath.Join(cfg.DataDir, pki.TLSCAFile)
			}
			svc, err := startRenew(cmd.Context(), cfg, st, vaultURL, imdsAddr, vaultCA, time.Now, log)
			if err != nil {
				return err
			}
			var served chan error
			if listenAddr != "" {
				if served, err = serveRenew(cmd.Context(), cfg, st, svc, renewListen{addr: listenAddr, certFile: tlsCert, keyFile: tlsKey}, log); err != nil {
					return err
				}
			}
			svc.Run(cmd.Context())
			if served != nil {
				return <-served
			}
			return nil
		},
	}
	run.Flags().StringVar(&vaultURL, "vault", "", "vault URL (default https://<vault.listen>)")
	run.Flags().StringVar(&imdsAddr, "imds", "", "metadata service giving the managed-identity token (default http://<imds.listen>)")
	run.Flags().StringVar(&vaultCA, "ca-file", "", "CA certificate of the vault's TLS certificate, besides the system's (default <data-dir>/tls-ca.pem)")
	run.Flags().StringVar(&listenAddr, "listen", "", "also serve the REST API and the dashboard over HTTPS on this address (e.g. 127.0.0.1:8257)")
	run.Flags().StringVar(&tlsCert, "tls-cert", "", "PEM certificate (chain) for --listen (default vault.tls_cert_file, else tegata's local TLS CA)")
	run.Flags().StringVar(&tlsKey, "tls-key", "", "PEM private key for --tls-cert")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List the managed certificates: expiry, next renewal, last error",
		Example: "  tegata renew list\n  tegata renew list --output json | jq '.[] | select(.lastError)'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(g, cmd, func(ctx context.Context, cfg config.Config, st store.Store) error {
				list, err := renew.Stored(ctx, st, schedule.DefaultPolicy(), time.Now())
				if err != nil {
					return err
				}
				if g.output == "json" {
					return printJSON(cmd.OutOrStdout(), list)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tEXPIRES\tNEXT RENEWAL\tISSUED\tLAST ERROR")
				for _, s := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", s.Name, fmtTime(&s.NotAfter), fmtTime(&s.NextRenewal), s.Issued, s.LastError)
				}
				return tw.Flush()
			})
		},
	}
	addOutputFlag(list, g)

	var admin string
	now := &cobra.Command{
		Use:   "now NAME",
		Short: "Renew a certificate now, through the running service's admin API",
		Long: `Asks the renewal service running inside tegata up (its admin listener, loopback only) to
renew NAME now, whatever its schedule says, and waits for the result. A failure leaves the
current certificate in place.`,
		Example: "  tegata renew now www-example-com\n  tegata renew now www-example-com --admin 127.0.0.1:8255 --output json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			status, body, err := postAdmin(cmd, g, admin, "/admin/renew/"+url.PathEscape(args[0]), 10*time.Minute, 1<<20)
			if err != nil {
				return err
			}
			if g.output == "json" {
				cmd.OutOrStdout().Write(body)
			}
			if status != http.StatusOK {
				return fmt.Errorf("renewing %s: %d %s: %s", args[0], status, http.StatusText(status), strings.TrimSpace(string(body)))
			}
			if g.output != "json" {
				var st renew.Status
				json.Unmarshal(body, &st)
				fmt.Fprintf(cmd.OutOrStdout(), "renewed %s: version %s, expires %s\n", st.Name, st.Version, st.NotAfter.Format(time.RFC3339))
			}
			return nil
		},
	}
	now.Flags().StringVar(&admin, "admin", "", "admin listener of tegata up (default imds.admin_listen)")
	addOutputFlag(now, g)
	cmd.AddCommand(run, list, now, newRenewAdoptCmd(g))
	return cmd
}

// renewAdminHandler serves the renewal service on the admin listener (loopback,
// like the rest of the control API): GET /admin/renew lists, POST
// /admin/renew/{name} renews now.
func renewAdminHandler(svc *renew.Service) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/renew", func(w http.ResponseWriter, r *http.Request) {
		list, err := svc.List(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(list)
	})
	mux.HandleFunc("POST /admin/renew-adopt", func(w http.ResponseWriter, r *http.Request) {
		found, err := svc.Adopt(r.Context(), r.URL.Query().Get("dry_run") == "true")
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			json.NewEncoder(w).Encode(map[string]any{"error": err.Error(), "adopted": found})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"adopted": found})
	})
	mux.HandleFunc("POST /admin/renew/{name}", func(w http.ResponseWriter, r *http.Request) {
		st, err := svc.Renew(r.Context(), r.PathValue("name"))
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			json.NewEncoder(w).Encode(map[string]any{"error": err.Error(), "status": st})
			return
		}
		json.NewEncoder(w).Encode(st)
	})
	return mux
}

// startRenew builds the renewal service for the vault at vaultURL (tegata's own by
// default), authenticating as the service principal of renew.vault_auth when it has
// a client_id, else with the managed-identity token of the metadata service at
// imdsAddr, and adds the configured certificates that it does not manage yet
// (issuing them now).
func startRenew(ctx context.Context, cfg config.Config, st store.Store, vaultURL, imdsAddr, caFile string, clock func() time.Time, log *slog.Logger) (*renew.Service, error) {
	rc := cfg.Renew
	if vaultURL == "" {
		vaultURL = "https://" + cfg.Vault.Listen
	}
	if imdsAddr == "" {
		imdsAddr = "http://" + cfg.IMDS.Listen
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if b, err := os.ReadFile(caFile); err == nil {
		pool.AppendCertsFromPEM(b)
	}
	vaultClient := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	u, err := url.Parse(vaultURL)
	if err != nil || u.Scheme != "https" {
		return nil, &exitError{code: 2, err: fmt.Errorf("vault URL %q: give an https URL", vaultURL)}
	}
	byIP := net.ParseIP(u.Hostname()) != nil || u.Hostname() == "localhost"
	cred, authDesc, err := renewCredential(rc.VaultAuth, imdsAddr, vaultClient)
	if err != nil {
		return nil, err
	}
	kv, err := renew.NewVault(vaultURL, cred, azcore.ClientOptions{Transport: vaultClient, Retry: policy.RetryOptions{MaxRetries: 2}}, byIP)
	if err != nil {
		return nil, err
	}
	caPool, err := x509.SystemCertPool()
	if err != nil {
		caPool = x509.NewCertPool()
	}
	if rc.CAFile != "" {
		b, err := os.ReadFile(rc.CAFile)
		if err != nil {
			return nil, &exitError{code: 2, err: fmt.Errorf("configuration: renew.ca_file: %w", err)}
		}
		caPool.AppendCertsFromPEM(b)
	}
	acmeHTTP := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS12}}}
	acfg := acme.Config{DirectoryURL: rc.Directory, Account: acme.Account{Email: rc.Email}, HTTPClient: acmeHTTP, UserAgent: "tegata/" + Version}
	if rc.EABKeyID != "" {
		acfg.EAB = &acme.EAB{KeyID: rc.EABKeyID, HMACBase64: rc.EABHMACKey}
	}
	client, err := kv.Account(ctx, acfg)
	if err != nil {
		return nil, fmt.Errorf("ACME account at %s: %w", rc.Directory, err)
	}
	providers := map[string]dnsprov.Provider{}
	for i, p := range rc.DNSProviders {
		if p.Name == "" {
			return nil, &exitError{code: 2, err: fmt.Errorf("configuration: renew.dns_providers[%d].name is empty", i)}
		}
		prov, err := dnsprov.New(p.Type, p.Config)
		if err != nil {
			return nil, &exitError{code: 2, err: fmt.Errorf("configuration: renew.dns_providers[%d] (%s): %w", i, p.Name, err)}
		}
		providers[p.Name] = prov
	}
	var notifier *notify.Notifier
	if len(rc.Webhooks) > 0 {
		var hooks []notify.Webhook
		for i, w := range rc.Webhooks {
			f, err := notify.ParseFormat(w.Format)
			if err != nil {
				return nil, &exitError{code: 2, err: fmt.Errorf("configuration: renew.webhooks[%d].format: %w", i, err)}
			}
			hooks = append(hooks, notify.Webhook{URL: w.URL, Format: f})
		}
		if notifier, err = notify.New(notify.Options{Webhooks: hooks, Instance: "tegata", Logger: log}); err != nil {
			return nil, &exitError{code: 2, err: fmt.Errorf("configuration: renew.webhooks: %w", err)}
		}
	}
	svc, err := renew.New(renew.Options{
		Instance: "tegata", Owner: leaseOwner(cfg.DataDir), Vault: kv, ACME: client, DNS: providers,
		DNS01:         acme.DNS01{Resolvers: rc.Resolvers, PropagationTimeout: rc.PropagationTimeout},
		HTTP01Address: rc.HTTP01Listen, Store: st, Notifier: notifier, Tick: rc.Tick, Clock: clock, Log: log,
	})
	if err != nil {
		return nil, err
	}
	managed, err := renew.Stored(ctx, st, schedule.DefaultPolicy(), clock())
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, m := range managed {
		have[m.Name] = true
	}
	for i, c := range rc.Certificates {
		d := renew.Definition{Name: c.Name, DNSNames: c.DNSNames, KeyType: c.KeyType, KeySize: c.KeySize, Curve: c.Curve, ReuseKey: c.ReuseKey,
			DNSProvider: c.DNSProvider, DNSAlias: c.DNSAlias, HTTP01: c.HTTP01, Profile: c.Profile, PreferredChain: c.PreferredChain}
		if err := d.Validate(); err != nil {
			return nil, &exitError{code: 2, err: fmt.Errorf("configuration: renew.certificates[%d].%w", i, err)}
		}
		if have[d.Name] {
			continue
		}
		if _, err := svc.Add(ctx, d); err != nil {
			log.Warn("renew: first issue failed; it is retried on the schedule", "certificate", d.Name, "err", err)
		}
	}
	log.Info("renewal service running", "directory", rc.Directory, "vault", vaultURL, "vault_auth", authDesc, "certificates", len(rc.Certificates))
	return svc, nil
}

// renewListen is where `renew run --listen` serves the API and the dashboard.
type renewListen struct{ addr, certFile, keyFile string }

// serveRenew serves svc's REST API and dashboard over HTTPS until ctx ends, with
// the vault's token trust (vault.issuer) and the role assignments of st, and
// returns the channel that delivers the server's end.
func serveRenew(ctx context.Context, cfg config.Config, st store.Store, svc *renew.Service, l renewListen, log *slog.Logger) (chan error, error) {
	trust, err := trustFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	resource := "https://" + cfg.Vault.Domain
	validator, err := auth.NewValidator(auth.Options{Issuer: trust.issuer, Tenant: trust.tenant, Resources: []string{resource}, Keys: trust.keys})
	if err != nil {
		return nil, err
	}
	authority := trust.authority
	if authority == "" {
		authority = "https://login.microsoftonline.com"
	}
	challenge, err := auth.Challenge(auth.TenantAuthority(authority, trust.tenant), resource)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("configuration: vault.issuer: %w", err)}
	}
	var policy atomic.Pointer[rbac.Policy]
	load := func() error {
		as, err := st.Assignments(ctx, "")
		if err != nil {
			return fmt.Errorf("reading role assignments: %w", err)
		}
		p, err := rbac.Compile(as)
		if err != nil {
			return fmt.Errorf("role assignments: %w", err)
		}
		policy.Store(p)
		return nil
	}
	if err := load(); err != nil {
		return nil, err
	}
	cert, err := renewTLS(cfg, l, log)
	if err != nil {
		return nil, err
	}
	ln, err := listen("renew --listen", l.addr)
	if err != nil {
		return nil, err
	}
	access := renew.APIOptions{Tokens: validator, Policy: policy.Load, Vault: cfg.Vault.Name, Challenge: challenge}
	dash, err := renew.NewDashboard(svc, renew.DashboardOptions{APIOptions: access, Context: ctx})
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", renew.NewAPI(svc, access))
	mux.Handle("/dashboard", dash)
	mux.Handle("/dashboard/", dash)
	srv := &http.Server{
		Handler:           mux,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	done := make(chan error, 1)
	go func() {
		// Role assignments change under us (tegata vault role assign): re-read them.
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := load(); err != nil {
					log.Warn("renew: keeping the previous role assignments", "err", err)
				}
			}
		}
	}()
	go func() { done <- serveTLSUntil(ctx, srv, ln) }()
	log.Info("renewal API and dashboard listening", "address", "https://"+ln.Addr().String()+"/dashboard/", "vault", cfg.Vault.Name)
	return done, nil
}

// renewTLS is the certificate of `renew run --listen`: the given files, the
// vault's, or one from tegata's local TLS CA (so clients trusting the vault's
// tls-ca.pem trust it too).
func renewTLS(cfg config.Config, l renewListen, log *slog.Logger) (tls.Certificate, error) {
	certFile, keyFile := l.certFile, l.keyFile
	if certFile == "" {
		certFile, keyFile = cfg.Vault.TLSCertFile, cfg.Vault.TLSKeyFile
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return cert, &exitError{code: 2, err: fmt.Errorf("--tls-cert/--tls-key (or vault.tls_cert_file/tls_key_file): %w", err)}
		}
		return cert, nil
	}
	master, err := loadMasterKey(cfg, log)
	if err != nil {
		return tls.Certificate{}, err
	}
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, _, _ := net.SplitHostPort(l.addr); h != "" && h != "127.0.0.1" && h != "localhost" {
		hosts = append(hosts, h)
	}
	cert, _, err := pki.LocalTLS(cfg.DataDir, master, hosts, time.Now())
	return cert, err
}

// leaseOwner is this renewal service's lease owner id: the same across restarts on
// this host and data directory, so a restarted service (after a crash, kill -9
// included) takes its own leases back at once; distinct for replicas elsewhere.
func leaseOwner(dataDir string) string {
	host, _ := os.Hostname()
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	sum := sha256.Sum256([]byte(host + "\x00" + dataDir))
	return "tegata/" + hex.EncodeToString(sum[:8])
}

// postAdmin POSTs to path on the admin listener of a running tegata up (admin, else
// imds.admin_listen of the configuration) and returns the status and up to limit
// bytes of the answer.
func postAdmin(cmd *cobra.Command, g *globals, admin, path string, timeout time.Duration, limit int64) (int, []byte, error) {
	if admin == "" {
		cfg, err := loadConfig(g, nil)
		if err != nil {
			return 0, nil, err
		}
		admin = cfg.IMDS.AdminListen
	}
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, "http://"+admin+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("the renewal service at %s: %w (is tegata up running with renew.enabled?)", admin, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, limit))
	return resp.StatusCode, body, nil
}
