// Package cli builds tegata's command tree: one file per command group, each turning
// flags into configuration and configuration into a part's constructor.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tegata-project/tegata/internal/config"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=v1.2.3".
var Version = "dev"

// globals are the persistent flags every command shares.
type globals struct {
	configPath string
	output     string
	flags      *pflag.FlagSet
}

// exitError carries a specific exit status; other errors exit 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Execute runs the command line and returns the process exit status.
func Execute() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	root.SetContext(ctx)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "tegata:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "tegata",
		Short: "Instance identity and certificates for virtual machines, over Azure's wire protocols",
		Long: `tegata (手形) gives virtual machines their proofs and keeps them valid: an Azure
IMDS-compatible metadata service (instance metadata, scheduled events, load balancer,
managed identity, attested documents from tegata's PKI), a Key Vault-compatible vault, ACME
certificate renewal into it, and a deploy agent that installs the certificates on VMs.

Existing clients work unchanged: the curl samples of Azure's documentation, the Azure
SDKs, cloud-init and WALinuxAgent.

Start everything with no configuration:
  tegata up

Settings come from tegata.yaml (or --config), then TEGATA_* environment variables,
then flags; ` + "`tegata config print`" + ` shows the result.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", os.Getenv("TEGATA_CONFIG"), "configuration file (default ./tegata.yaml when it exists; env TEGATA_CONFIG)")
	pf.String("log-level", "", "log level: debug, info, warn, error (default info)")
	pf.String("log-format", "", "log format: auto (text on a terminal, json otherwise), text, json")
	pf.String("data-dir", "", "directory for tegata's state (default ~/.local/share/tegata; ./.tegata under `up`)")
	g.flags = pf
	root.AddCommand(newVersionCmd(g), newConfigCmd(g), newIMDSCmd(g), newAttestCmd(g), newPKICmd(g), newVaultCmd(g), newRenewCmd(g), newAgentCmd(g), newUpCmd(g), newMappingCmd(g))
	return root
}

func versionString() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	return v
}

func newVersionCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print tegata's version",
		Example: `  tegata version
  tegata version --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := map[string]string{"version": Version, "go": goVersion()}
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						info["revision"] = s.Value
					}
				}
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), info)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "tegata %s (%s)\n", versionString(), info["go"])
			return nil
		},
	}
	addOutputFlag(cmd, g)
	return cmd
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "unknown"
}

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show tegata's configuration",
	}
	print := &cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration (defaults < file < TEGATA_* env < flags)",
		Long: `Print the configuration tegata would run with, after the file, the environment and
the flags given here. The output is a valid tegata.yaml: save it and edit it.`,
		Example: `  tegata config print > tegata.yaml
  TEGATA_IMDS_LISTEN=127.0.0.1:9000 tegata config print --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g, nil)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), cfg)
			}
			b, err := cfg.YAML()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	addOutputFlag(print, g)
	cmd.AddCommand(print)
	return cmd
}

func addOutputFlag(cmd *cobra.Command, g *globals) {
	cmd.Flags().StringVarP(&g.output, "output", "o", "text", "output format: text or json")
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// flagOverride applies one flag to the configuration when the user set it.
type flagOverride func(cfg *config.Config)

// loadConfig reads file and environment, applies the global flags and the command's
// overrides, and validates.
func loadConfig(g *globals, overrides []flagOverride) (config.Config, error) {
	cfg, _, err := config.Load(g.configPath, os.Environ())
	if err != nil {
		return cfg, err
	}
	if v, _ := g.flags.GetString("log-level"); v != "" {
		cfg.Log.Level = v
	}
	if v, _ := g.flags.GetString("log-format"); v != "" {
		cfg.Log.Format = v
	}
	if v, _ := g.flags.GetString("data-dir"); v != "" {
		cfg.DataDir = v
	}
	for _, o := range overrides {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, &exitError{code: 2, err: fmt.Errorf("configuration: %w", err)}
	}
	return cfg, nil
}

// newLogger returns the logger cfg asks for: text on a terminal, JSON for services.
func newLogger(cfg config.LogConfig, w *os.File) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.Format
	if format == "auto" {
		format = "json"
		if fi, err := w.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
