package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tegata-project/tegata/internal/config"
	"github.com/tegata-project/tegata/internal/identity"
	"github.com/tegata-project/tegata/internal/instance"
	"github.com/tegata-project/tegata/internal/renew"
	"github.com/tegata-project/tegata/internal/store"
	"github.com/tegata-project/tegata/internal/vault/auth"
)

// upDataDir is where `tegata up` keeps state unless told otherwise: beside the
// newcomer, where they can see it and delete it.
const upDataDir = ".tegata"

func newUpCmd(g *globals) *cobra.Command {
	var f imdsFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start every part of tegata in one process, with no configuration needed",
		Long: `Start every part that tegata has, in one process, on loopback, with state in ./.tegata,
and print where each endpoint is with one command to try.

Parts running today: the metadata service (IMDS), with attested documents signed by
tegata's PKI and managed-identity tokens from tegata's issuer; the Key Vault-compatible
vault over HTTPS (on an embedded SQLite store in ./.tegata/tegata.db), where the default
instance's managed identity is Key Vault Administrator; and, when tegata.yaml has a renew
section with renew.enabled, the ACME renewal service issuing into that vault (its REST API on
the vault's host under /api/, its web dashboard under /dashboard/, with a one-time login
link for the default instance's identity in the welcome text). The deploy agent runs on the
VMs: tegata agent run.

Stop with Ctrl-C (or SIGTERM): servers shut down gracefully.`,
		Example: `  go run ./cmd/tegata up
  tegata up --imds-listen 127.0.0.1:9254
  tegata up --inventory inventory.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			overrides := append(f.overrides(cmd, "imds-"), func(cfg *config.Config) {
				if !g.flags.Changed("data-dir") && os.Getenv("TEGATA_DATA_DIR") == "" {
					cfg.DataDir = upDataDir
				}
				if cmd.Flags().Changed("vault-listen") {
					cfg.Vault.Listen, _ = cmd.Flags().GetString("vault-listen")
				}
			})
			cfg, err := loadConfig(g, overrides)
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, os.Stderr)
			// One database for every part: the vault's objects, the PKI's and the
			// identity issuer's keys.
			st, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := startIMDS(cmd.Context(), cfg, st, log)
			if err != nil {
				return err
			}
			var v *runningVault
			if cfg.Vault.Enabled {
				if v, err = startDevVault(cmd.Context(), cfg, st, r, log); err != nil {
					return err
				}
			}
			dashboardLink := ""
			if cfg.Renew.Enabled && v != nil {
				// The login link is minted now, for the banner; the dashboard that
				// redeems it starts with the renewal service.
				sessions := renew.NewSessions(0)
				if inst := r.server.Inventory().Default(); inst != nil && inst.Identity.SystemAssigned.Enabled {
					dashboardLink = "https://" + v.addr.String() + sessions.LoginLink(inst.Identity.SystemAssigned.ObjectID)
				}
				// The first issues can take a while (DNS propagation): in the background.
				go func() {
					svc, err := startRenew(cmd.Context(), cfg, st, "https://"+v.addr.String(), "http://"+r.metaAddr.String(), v.caPEM, r.clock.Now, log)
					if err != nil {
						log.Error("the renewal service did not start", "err", err)
						return
					}
					admin := renewAdminHandler(svc)
					for _, p := range []string{"/admin/renew/", "/admin/renew", "/admin/renew-adopt"} {
						r.admin.Handle(p, admin)
					}
					access := renew.APIOptions{Tokens: v.vault.Tokens(), Policy: v.vault.Policy, Vault: cfg.Vault.Name, Challenge: v.vault.Challenge()}
					var api http.Handler = renew.NewAPI(svc, access)
					v.api.Store(&api)
					dash, err := renew.NewDashboard(svc, renew.DashboardOptions{APIOptions: access, Sessions: sessions, Context: cmd.Context()})
					if err != nil {
						log.Error("the renewal dashboard did not start", "err", err)
					} else {
						var h http.Handler = dash
						v.dashboard.Store(&h)
					}
					svc.Run(cmd.Context())
				}()
			}
			printWelcome(cmd.OutOrStdout(), cfg, r, v, dashboardLink)
			err = <-r.done
			if v != nil {
				if verr := <-v.done; err == nil {
					err = verr
				}
			}
			return err
		},
	}
	f.register(cmd, "imds-")
	cmd.Flags().String("vault-listen", "", "HTTPS address of the vault (default 127.0.0.1:8256; env TEGATA_VAULT_LISTEN)")
	return cmd
}

// startDevVault runs the vault beside the metadata service, trusting the tokens of the
// in-process managed-identity issuer, and grants the default instance's
// system-assigned identity the Key Vault Administrator role so a first try works.
func startDevVault(ctx context.Context, cfg config.Config, st store.Store, r *runningIMDS, log *slog.Logger) (*runningVault, error) {
	if r.identity == nil {
		log.Warn("the vault needs the managed-identity issuer for its tokens: identity.enabled is false, so the vault is not started")
		return nil, nil
	}
	inst := r.server.Inventory().Default()
	tenant := instance.DefaultTenantID
	if inst != nil && inst.Identity.SystemAssigned.TenantID != "" {
		tenant = inst.Identity.SystemAssigned.TenantID
	}
	trust := tokenTrust{keys: auth.FuncKeys(r.identity.JWKS), issuer: identity.IssuerURL(tenant), tenant: tenant}
	v, err := startVault(ctx, cfg, st, r.master, trust, r.clock.Now, log)
	if err != nil {
		return nil, err
	}
	if inst != nil && inst.Identity.SystemAssigned.Enabled {
		if err := grantDevAdmin(ctx, v, cfg.Vault.Name, inst.Identity.SystemAssigned.ObjectID); err != nil {
			return nil, err
		}
		log.Info("dev mode: the default instance's system-assigned identity is Key Vault Administrator of the vault",
			"vault", cfg.Vault.Name, "principal", inst.Identity.SystemAssigned.ObjectID)
	}
	return v, nil
}

// selfCommand is how the newcomer runs tegata again: `go run ./cmd/tegata` when this
// process was started that way (its binary sits in go's build cache), else `tegata`.
func selfCommand() string {
	if strings.Contains(os.Args[0], "go-build") {
		return "go run ./cmd/tegata"
	}
	return "tegata"
}

func printWelcome(w io.Writer, cfg config.Config, r *runningIMDS, v *runningVault, dashboardLink string) {
	meta, admin := r.metaAddr.String(), r.adminAddr.String()
	inst := r.server.Inventory().Default()
	who := fmt.Sprintf("%d instances from %s", r.server.Inventory().Len(), cfg.IMDS.Inventory)
	if cfg.IMDS.Inventory == "" && inst != nil {
		who = fmt.Sprintf("generated instance %s (vmId %s, kept in %s)", inst.Name, inst.Compute.VMID, cfg.DataDir)
	}
	fmt.Fprintf(w, `tegata is up. Press Ctrl-C to stop.

  Metadata service (Azure IMDS)  http://%[1]s/metadata
    serving %[3]s
    try: curl -s -H Metadata:true "http://%[1]s/metadata/instance?api-version=2021-02-01"
         curl -s -H Metadata:true "http://%[1]s/metadata/instance/compute/vmId?api-version=2017-08-01&format=text"
         curl -s -H Metadata:true "http://%[1]s/metadata/scheduledevents?api-version=2020-07-01"

%[5]s%[6]s%[7]s  Scheduled events and faults    %[4]s imds events add --type Reboot --not-before 5m --admin %[2]s
                                 %[4]s imds faults add --status 410 --count 3 --admin %[2]s

  Metrics and health             http://%[2]s/metrics   http://%[2]s/healthz
    try: curl -s http://%[2]s/healthz

  Effective configuration        %[4]s config print

`, meta, admin, who, selfCommand(), attestedSection(r, meta, admin, cfg.DataDir), identitySection(r, meta, admin), vaultSection(v, cfg, meta)+dashboardSection(dashboardLink))
}

// dashboardSection is the welcome's lines about the renewal service, when it runs:
// where its dashboard and API are, and a one-time login link for the default
// instance's identity.
func dashboardSection(link string) string {
	if link == "" {
		return ""
	}
	base, _, _ := strings.Cut(link, "/dashboard/")
	return fmt.Sprintf(`  Renewal service (ACME)         dashboard %[1]s/dashboard/   API %[1]s/api/
    dashboard: %[2]s
               (signs the default instance's identity in once, within 10 minutes; or sign in with a token)

`, base, link)
}

// attestedSection is the welcome's lines about attested documents, when the PKI runs.
func attestedSection(r *runningIMDS, meta, admin, dataDir string) string {
	if r.pki == nil {
		return ""
	}
	return fmt.Sprintf(`  Attested documents             signed by tegata's PKI (keys encrypted in the store)
    try: curl -s -H Metadata:true "http://%[1]s/metadata/attested/document?api-version=2025-04-07&nonce=1234567890"
         CA certificates (AIA) and bundle: http://%[2]s/pki/bundle.pem

`, meta, admin)
}

// identitySection is the welcome's lines about managed identity, when the issuer runs.
func identitySection(r *runningIMDS, meta, admin string) string {
	if r.identity == nil {
		return ""
	}
	return fmt.Sprintf(`  Managed identity               tokens signed by tegata's issuer; keys http://%[2]s/identity/keys
    try: curl -s -H Metadata:true "http://%[1]s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%%3A%%2F%%2Fvault.azure.net"

`, meta, admin)
}

// vaultSection is the welcome's lines about the vault, when it runs. The commands
// carry only the flags that differ from their defaults.
func vaultSection(v *runningVault, cfg config.Config, meta string) string {
	if v == nil {
		return ""
	}
	addr := v.addr.String()
	flags := ""
	if addr != "127.0.0.1:8256" {
		flags += " --vault https://" + addr
	}
	if meta != "127.0.0.1:8254" {
		flags += " --imds http://" + meta
	}
	if v.caPEM != "" && filepath.Clean(v.caPEM) != filepath.Join(upDataDir, "tls-ca.pem") {
		flags += " --ca-file " + v.caPEM
	}
	return fmt.Sprintf(`  Key Vault-compatible vault     https://%[1]s/  (vault %[2]s; TLS CA %[3]s)
    the default instance's identity is Key Vault Administrator here (dev mode)
    try: %[4]s vault secret set db-password --value s3cret%[5]s
         %[4]s vault secret get db-password%[5]s

`, addr, cfg.Vault.Name, v.caPEM, selfCommand(), flags)
}
