package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tegata-project/tegata/internal/config"
	"github.com/tegata-project/tegata/internal/pki"
	"github.com/tegata-project/tegata/internal/store"
	"github.com/tegata-project/tegata/internal/vault"
	"github.com/tegata-project/tegata/internal/vault/rbac"
)

func newVaultCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "The Key Vault-compatible vault: serve it, use it, grant roles",
		Long: `The vault speaks the Azure Key Vault data plane (secrets and certificates) over HTTPS,
so Key Vault clients such as the Azure SDK's azsecrets and azcertificates work against it.
Callers authenticate with bearer tokens from a trusted issuer (tegata's managed-identity
issuer under ` + "`tegata up`" + `) and are authorised by Azure's built-in Key Vault roles.

Secret values and private keys are encrypted at rest under the master key.`,
	}
	cmd.AddCommand(newVaultServeCmd(g), newVaultRoleCmd(g), newVaultSecretCmd(g), newVaultCertCmd(g), newVaultAuditCmd(g), newVaultRewrapCmd(g))
	return cmd
}

func newVaultServeCmd(g *globals) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the vault alone, trusting the issuer in vault.issuer",
		Long: `Serve the vault over HTTPS, trusting the bearer tokens of the issuer configured in
vault.issuer (url, jwks_url, tenant). Unlike ` + "`tegata up`" + `, it grants nobody any role:
assign them with ` + "`tegata vault role assign`" + `.`,
		Example: `  TEGATA_VAULT_ISSUER_URL=https://sts.windows.net/<tenant>/ \
  TEGATA_VAULT_ISSUER_JWKS_URL=http://127.0.0.1:8255/identity/keys \
  TEGATA_VAULT_ISSUER_TENANT=<tenant> tegata vault serve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g, []flagOverride{func(cfg *config.Config) {
				if cmd.Flags().Changed("listen") {
					cfg.Vault.Listen = listen
				}
			}})
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, os.Stderr)
			trust, err := trustFromConfig(cfg)
			if err != nil {
				return err
			}
			master, err := loadMasterKey(cfg, log)
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := startVault(cmd.Context(), cfg, st, master, trust, time.Now, log)
			if err != nil {
				return err
			}
			return <-r.done
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "HTTPS address (default 127.0.0.1:8256; env TEGATA_VAULT_LISTEN)")
	return cmd
}

func newVaultRoleCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "role",
		Short: "Assign Key Vault roles to principals (object ids)",
		Long: `Role assignments grant Azure's built-in Key Vault data roles to a principal (the oid
of its tokens) on the whole vault (scope /) or one object (/secrets/<name> or
/certificates/<name>; a certificate scope also covers its secret). They are written to
the store; running vaults pick them up within seconds.

Roles: Administrator, Certificates Officer, Certificate User, Secrets Officer,
Secrets User, Reader (full names such as "Key Vault Secrets User" and role-definition
ids work too).`,
	}
	var principal, role, scope, vaultName string
	assign := &cobra.Command{
		Use:   "assign",
		Short: "Grant a role to a principal",
		Example: `  tegata vault role assign --principal 8d3c6f0e-... --role "Secrets User"
  tegata vault role assign --principal 8d3c6f0e-... --role "Certificate User" --scope /certificates/www`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, ok := rbac.LookupRole(role)
			if !ok {
				return &exitError{code: 2, err: fmt.Errorf("--role %q is not a built-in Key Vault role; use one of: %s", role, roleNames())}
			}
			if principal == "" {
				return &exitError{code: 2, err: errors.New("--principal is required: the object id (oid) of the identity, e.g. from `tegata imds inventory` or a token")}
			}
			if scope != "/" && !strings.HasPrefix(scope, "/secrets/") && !strings.HasPrefix(scope, "/certificates/") {
				return &exitError{code: 2, err: fmt.Errorf("--scope %q: use / (the whole vault), /secrets/<name> or /certificates/<name>", scope)}
			}
			return withStore(g, cmd, func(ctx context.Context, cfg config.Config, st store.Store) error {
				name := vaultName
				if name == "" {
					name = cfg.Vault.Name
				}
				a := store.Assignment{ID: newAssignmentID(), Vault: name, Principal: principal, RoleID: r.ID, Scope: scope, Created: time.Now().UTC()}
				if err := st.PutAssignment(ctx, a); err != nil {
					return err
				}
				if g.output == "json" {
					return printJSON(cmd.OutOrStdout(), toAssignmentJSON(a))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "assigned %s to %s at %s on vault %s (id %s)\n", r.Name, principal, scope, name, a.ID)
				return nil
			})
		},
	}
	assign.Flags().StringVar(&principal, "principal", "", "object id (oid) of the identity")
	assign.Flags().StringVar(&role, "role", "", "built-in role name or id")
	assign.Flags().StringVar(&scope, "scope", "/", "/ (vault), /secrets/<name> or /certificates/<name>")
	assign.Flags().StringVar(&vaultName, "vault-name", "", "vault name (default vault.name)")
	addOutputFlag(assign, g)

	list := &cobra.Command{
		Use:   "list",
		Short: "List role assignments",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(g, cmd, func(ctx context.Context, cfg config.Config, st store.Store) error {
				as, err := st.Assignments(ctx, "")
				if err != nil {
					return err
				}
				if g.output == "json" {
					out := make([]assignmentJSON, 0, len(as))
					for _, a := range as {
						out = append(out, toAssignmentJSON(a))
					}
					return printJSON(cmd.OutOrStdout(), out)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tVAULT\tPRINCIPAL\tROLE\tSCOPE")
				for _, a := range as {
					name := a.RoleID
					if r, ok := rbac.LookupRole(a.RoleID); ok {
						name = r.Name
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, a.Vault, a.Principal, name, a.Scope)
				}
				return tw.Flush()
			})
		},
	}
	addOutputFlag(list, g)

	remove := &cobra.Command{
		Use:     "remove ID",
		Short:   "Remove a role assignment by id (see role list)",
		Args:    cobra.ExactArgs(1),
		Example: `  tegata vault role remove 3f0c9d2a8e7b4c1d`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(g, cmd, func(ctx context.Context, cfg config.Config, st store.Store) error {
				if err := st.DeleteAssignment(ctx, args[0]); err != nil {
					if errors.Is(err, store.ErrNotFound) {
						return fmt.Errorf("no role assignment has id %s: see tegata vault role list", args[0])
					}
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed assignment %s\n", args[0])
				return nil
			})
		},
	}
	cmd.AddCommand(assign, list, remove)
	return cmd
}

func newVaultAuditCmd(g *globals) *cobra.Command {
	var since time.Duration
	var limit int
	cmd := &cobra.Command{
		Use:     "audit",
		Short:   "Show the audit log: who did what to which object, when, with what result",
		Example: "  tegata vault audit --since 1h\n  tegata vault audit --output json | jq '.[] | select(.status >= 400)'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(g, cmd, func(ctx context.Context, cfg config.Config, st store.Store) error {
				q := store.AuditQuery{Limit: limit}
				if since > 0 {
					q.Since = time.Now().Add(-since)
				}
				es, err := st.Audit(ctx, q)
				if err != nil {
					return err
				}
				if g.output == "json" {
					out := make([]auditJSON, 0, len(es))
					for _, e := range es {
						out = append(out, auditJSON{e.Time, e.Vault, e.Principal, e.App, e.Action, e.Target, e.Status, e.RequestID, e.Client})
					}
					return printJSON(cmd.OutOrStdout(), out)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME\tPRINCIPAL\tACTION\tTARGET\tSTATUS")
				for _, e := range es {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", e.Time.Format(time.RFC3339), e.Principal, strings.TrimPrefix(e.Action, "Microsoft.KeyVault/vaults/"), e.Target, e.Status)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().DurationVar(&since, "since", 0, "only entries newer than this (e.g. 1h)")
	cmd.Flags().IntVar(&limit, "limit", 1000, "at most this many entries (1-10000)")
	addOutputFlag(cmd, g)
	return cmd
}

// withStore opens the configured store (./.tegata/tegata.db when that exists and no
// data dir is given, as `tegata up` keeps it) for a command.
func withStore(g *globals, cmd *cobra.Command, fn func(context.Context, config.Config, store.Store) error) error {
	cfg, err := loadConfig(g, []flagOverride{func(cfg *config.Config) {
		if !g.flags.Changed("data-dir") && os.Getenv("TEGATA_DATA_DIR") == "" {
			if _, err := os.Stat(upDataDir); err == nil {
				cfg.DataDir = upDataDir
			}
		}
	}})
	if err != nil {
		return err
	}
	st, err := openStore(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(cmd.Context(), cfg, st)
}

func roleNames() string {
	var names []string
	for _, r := range rbac.Roles() {
		names = append(names, strings.TrimPrefix(r.Name, "Key Vault "))
	}
	return strings.Join(names, ", ")
}

func newAssignmentID() string { return vault.NewID()[:16] }

func newVaultRewrapCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rewrap",
		Short: "Move every encrypted value to the current master key (after a key rotation)",
		Long: `Rotating the master key: give the new key as the master key (pki.master_key_file or
TEGATA_MASTER_KEY) and the old one in vault.previous_master_key_files, then run rewrap.
Each value keeps its ciphertext; only its data key is wrapped again, under the new key.
It is safe to re-run. When it reports 0, the old key can be dropped from the config.`,
		Example: `  TEGATA_VAULT_PREVIOUS_MASTER_KEY_FILES=old.key tegata vault rewrap --data-dir /var/lib/tegata`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(g, cmd, func(ctx context.Context, cfg config.Config, st store.Store) error {
				log := newLogger(cfg.Log, os.Stderr)
				master, err := loadMasterKey(cfg, log)
				if err != nil {
					return err
				}
				var olds []pki.MasterKey
				for _, f := range cfg.Vault.PreviousMasterKeyFiles {
					m, err := pki.LoadMasterKeyFile(f)
					if err != nil {
						return &exitError{code: 2, err: fmt.Errorf("vault.previous_master_key_files: %w", err)}
					}
					olds = append(olds, m)
				}
				sealer, err := vault.NewSealer(master, olds...)
				if err != nil {
					return err
				}
				n, err := vault.Rewrap(ctx, st, sealer, append([]string{cfg.Vault.Name}, cfg.Vault.Vaults...))
				if g.output == "json" {
					printJSON(cmd.OutOrStdout(), map[string]any{"rewrapped": n, "key_id": master.ID(), "ok": err == nil})
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "re-wrapped %d values under master key %s\n", n, master.ID())
				}
				return err
			})
		},
	}
	addOutputFlag(cmd, g)
	return cmd
}

// assignmentJSON and auditJSON are what --output json prints.
type assignmentJSON struct {
	ID        string    `json:"id"`
	Vault     string    `json:"vault"`
	Principal string    `json:"principal"`
	Role      string    `json:"role"`
	RoleID    string    `json:"role_id"`
	Scope     string    `json:"scope"`
	Created   time.Time `json:"created"`
}

func toAssignmentJSON(a store.Assignment) assignmentJSON {
	name := a.RoleID
	if r, ok := rbac.LookupRole(a.RoleID); ok {
		name = r.Name
	}
	return assignmentJSON{a.ID, a.Vault, a.Principal, name, a.RoleID, a.Scope, a.Created}
}

type auditJSON struct {
	Time      time.Time `json:"time"`
	Vault     string    `json:"vault"`
	Principal string    `json:"principal"`
	App       string    `json:"app"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Status    int       `json:"status"`
	RequestID string    `json:"request_id"`
	Client    string    `json:"client"`
}
