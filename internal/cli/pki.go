package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tegata-project/tegata/internal/config"
	"github.com/tegata-project/tegata/internal/pki"
)

func newPKICmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pki",
		Short: "The attestation PKI: its rotation timeline, and unplanned rotations",
		Long: `tegata's attestation PKI signs /metadata/attested/document. It lives in
tegata's database (keys encrypted under the master key) and follows the plan in
tegata.yaml (pki.plan): when each Sub CA is published, when signing switches to it, when
it retires, and new roots with cross-signs.`,
	}
	cmd.AddCommand(newPKIPlanCmd(g), newPKIRotateCmd(g), newPKIIssueClientCmd(g))
	return cmd
}

func newPKIPlanCmd(g *globals) *cobra.Command {
	var horizon time.Duration
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print the PKI's timeline: introductions, switches, retirements, expiries",
		Long: `Print the timeline of the PKI in the data directory (including unplanned rotations),
or, when none exists yet, of the configured plan as it would start now.`,
		Example: `  tegata pki plan
  tegata pki plan --data-dir .tegata --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g, nil)
			if err != nil {
				return err
			}
			now := time.Now()
			var events []pki.Event
			records, closeStore, err := existingPKI(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer closeStore()
			if records != nil {
				master, _, err := pki.LoadMasterKey(cfg.PKI.MasterKeyFile, cfg.DataDir, os.Getenv)
				if err != nil {
					return fmt.Errorf("pki master key: %w", err)
				}
				plan := cfg.PKI.Plan
				if plan.AIABaseURL == "" {
					plan.AIABaseURL = "http://" + cfg.IMDS.AdminListen + "/pki"
				}
				auth, err := pki.OpenStorage(records, master, plan, time.Now)
				if err != nil {
					return fmt.Errorf("pki: %w", err)
				}
				events = auth.Timeline(now)
			} else {
				plan := cfg.PKI.Plan.WithDefaults()
				if plan.Start.IsZero() {
					plan.Start = now
				}
				if err := plan.Validate(); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("configuration: pki.plan: %w", err)}
				}
				events = plan.Timeline(now)
			}
			var shown []pki.Event
			for _, e := range events {
				if horizon == 0 || e.Time.Before(now.Add(horizon)) {
					shown = append(shown, e)
				}
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), shown)
			}
			for _, e := range shown {
				mark := " "
				if !e.Time.After(now) {
					mark = "*" // already happened
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", mark, e)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&horizon, "horizon", 5*365*24*time.Hour, "show events up to this far ahead (0: all)")
	addOutputFlag(cmd, g)
	return cmd
}

func newPKIRotateCmd(g *globals) *cobra.Command {
	var admin string
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Rotate now: a new Sub CA is created and signs from this moment (unplanned)",
		Long: `Ask the running service to create a new Sub CA and switch signing to it at once, as
Azure did when it changed intermediates without notice. Verifiers that pinned the old
intermediate fail from now on; verifiers that follow AIA or refresh their bundle do not.`,
		Example: `  tegata pki rotate`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAdminClient(g, admin)
			if err != nil {
				return err
			}
			var out map[string]string
			if err := c.do(http.MethodPost, "/admin/pki/rotate", nil, &out); err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signing now with %s (until %s)\n", out["subject"], out["not_after"])
			return nil
		},
	}
	addAdminFlag(cmd, &admin)
	addOutputFlag(cmd, g)
	return cmd
}

// pkiRotateHandler is POST /admin/pki/rotate on the admin listener.
func pkiRotateHandler(auth *pki.Authority, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			json.NewEncoder(w).Encode(map[string]string{"error": "use POST"})
			return
		}
		sub, err := auth.Rotate(now())
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"subject": sub.Subject.CommonName, "not_after": sub.NotAfter.UTC().Format(time.RFC3339)})
	})
}

// existingPKI returns the records of the PKI kept in the configured store, or nil
// when there is none yet (no database, or no PKI in it): the plan alone is shown then.
func existingPKI(ctx context.Context, cfg config.Config) (pki.Storage, func(), error) {
	nothing := func() {}
	if cfg.Store.Driver == "sqlite" {
		path := cfg.Store.Path
		if path == "" {
			path = filepath.Join(cfg.DataDir, "tegata.db")
		}
		if _, err := os.Stat(path); err != nil {
			if _, err := os.Stat(filepath.Join(cfg.DataDir, "pki", "state.json")); err != nil {
				return nil, nothing, nil
			}
		}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nothing, err
	}
	records := pkiRecords(cfg, st)
	if _, err := records.Read("state.json"); err != nil {
		st.Close()
		return nil, nothing, nil
	}
	return records, func() { st.Close() }, nil
}
