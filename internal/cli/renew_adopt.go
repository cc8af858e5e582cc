package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tegata-project/tegata/internal/renew"
)

func newRenewAdoptCmd(g *globals) *cobra.Command {
	var admin string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "adopt",
		Short: "Take over the certificates Key Vault Acmebot manages in the vault",
		Long: `Reads the vault's certificate listing and takes over every certificate that carries
Key Vault Acmebot's tags (the v5 "Acmebot" JSON tag, or the older Issuer=Acmebot tags) and
that the renewal service does not manage yet. Each is recorded with its names, key type,
DNS alias and DNS provider (the configured provider of the name the tags give, else the only
one configured), and its current version is renewed when its schedule says, replacing it
through ARI. Nothing is issued now and the vault is not written; stop Acmebot's renewals of
these certificates before tegata's first one. Certificates another tegata instance tags are
left to it.

Asks the renewal service running inside tegata up, through its admin listener (loopback).
Run with --dry-run first to see what would be adopted and why the others are not.`,
		Example: "  tegata renew adopt --dry-run\n  tegata renew adopt\n  tegata renew adopt --output json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "/admin/renew-adopt"
			if dryRun {
				path += "?dry_run=true"
			}
			status, body, err := postAdmin(cmd, g, admin, path, 5*time.Minute, 16<<20)
			if err != nil {
				return err
			}
			if status != http.StatusOK {
				return fmt.Errorf("adopting: %d %s: %s", status, http.StatusText(status), strings.TrimSpace(string(body)))
			}
			var out struct {
				Adopted []renew.Adopted `json:"adopted"`
			}
			if err := json.Unmarshal(body, &out); err != nil {
				return fmt.Errorf("adopting: the service answered %q: %w", body, err)
			}
			if out.Adopted == nil {
				out.Adopted = []renew.Adopted{}
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), out.Adopted)
			}
			if len(out.Adopted) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no certificate in the vault carries Acmebot's (or tegata's) tags")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			verb := "ADOPTED"
			if dryRun {
				verb = "WOULD ADOPT"
			}
			fmt.Fprintf(tw, "NAME\tTAGGED BY\tDNS PROVIDER\t%s\tNOTE\n", verb)
			for _, a := range out.Adopted {
				yes := "no"
				if a.Adopted {
					yes = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Name, a.By, a.DNSProvider, yes, a.Reason)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&admin, "admin", "", "admin listener of tegata up (default imds.admin_listen)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be adopted; record nothing")
	addOutputFlag(cmd, g)
	return cmd
}
