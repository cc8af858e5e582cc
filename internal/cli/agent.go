package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tegata-project/tegata/internal/agent"
)

// agentFlags are the flags the agent's commands share.
type agentFlags struct {
	settings   string
	schema     string
	statusFile string
}

func (f *agentFlags) register(cmd *cobra.Command, withStatus bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.settings, "settings", "", "the Key Vault VM extension's settings file (the settings object or the whole ARM extension resource; - for stdin)")
	fl.StringVar(&f.schema, "schema", "auto", "settings form: v1, v2, v3, v4, or auto (from typeHandlerVersion, else strings mean v2 and objects v3)")
	if withStatus {
		fl.StringVar(&f.statusFile, "status-file", "", "status file (default tegata.statusFile, else "+agent.DefaultStatusFile+")")
	}
	_ = cmd.MarkFlagRequired("settings")
}

// plan reads the settings and plans them for goos. Settings errors exit 2.
func (f *agentFlags) plan(stdin io.Reader, goos string) (*agent.Settings, *agent.Plan, error) {
	schema, err := agent.ParseSchema(f.schema)
	if err != nil {
		return nil, nil, &exitError{code: 2, err: fmt.Errorf("--schema: %w", err)}
	}
	var data []byte
	name := f.settings
	if f.settings == "-" {
		name = "<stdin>"
		data, err = io.ReadAll(io.LimitReader(stdin, agent.MaxSettingsSize+1))
	} else {
		data, err = os.ReadFile(f.settings)
	}
	if err != nil {
		return nil, nil, &exitError{code: 2, err: fmt.Errorf("--settings: %w", err)}
	}
	s, err := agent.ParseSettings(data, agent.ParseOptions{File: name, Schema: schema})
	if err != nil {
		return nil, nil, &exitError{code: 2, err: err}
	}
	p, err := agent.NewPlan(s, goos)
	if err != nil {
		return s, nil, &exitError{code: 2, err: err}
	}
	if f.statusFile != "" {
		p.StatusFile = f.statusFile
	}
	return s, p, nil
}

// newAgent reads the configuration and the settings, applies override to the
// plan, logs the settings' warnings and builds the agent.
func (f *agentFlags) newAgent(g *globals, cmd *cobra.Command, override func(*agent.Plan)) (*agent.Agent, *agent.Settings, *agent.Plan, *slog.Logger, error) {
	cfg, err := loadConfig(g, nil)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	log := newLogger(cfg.Log, os.Stderr)
	s, p, err := f.plan(cmd.InOrStdin(), "")
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if override != nil {
		override(p)
	}
	for _, w := range p.Warnings {
		log.Warn("settings: " + w.String())
	}
	a, err := agent.New(agent.Options{Plan: p, Log: log})
	if err != nil {
		return nil, nil, nil, nil, &exitError{code: 2, err: err}
	}
	return a, s, p, log, nil
}

func newAgentCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Keep a machine's certificates current from a vault, driven by the Key Vault VM extension's settings",
		Long: `The agent reads the settings file of Azure's Key Vault VM extension (KeyVaultForLinux or
KeyVaultForWindows, forms v1 to v4), gets managed-identity tokens from a metadata service
(Azure's IMDS, Azure Arc, or tegata's), reads each observed certificate's secret from the
vault (Azure Key Vault or tegata's) and installs new versions on disk: the extension's
Linux layout (<store>/<vault>.<name>.<version> files and a <vault>.<name> symbolic link
swapped atomically), plus tegata's extras under a "tegata" key of the same file: reload
hooks, separate PEM and PFX files, owner, group and mode, retention, a status file and
Prometheus metrics.

Each new version is checked first: its key matches the leaf, the chain builds, it is
within its validity, and it is newer than the installed one. A version that fails is
refused and reported, and the installed one stays.

See docs/agent.md for the settings, the on-disk layout and the systemd unit.`,
	}
	cmd.AddCommand(newAgentRunCmd(g), newAgentOnceCmd(g), newAgentCheckCmd(g), newAgentStatusCmd(g))
	return cmd
}

func newAgentRunCmd(g *globals) *cobra.Command {
	var f agentFlags
	var listen string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the agent as a service: poll the vault and install new versions until stopped",
		Long: `Run the agent until SIGTERM or Ctrl-C. Each certificate is polled every
pollingIntervalInS (±10 %, at most ±60 s); failures are retried after 5 s, doubling up to the
interval. With requireInitialSync the agent reports itself ready (systemd READY=1, /readyz,
the status file) only after every certificate is installed, and exits 1 after 25 failed
attempts; otherwise it is ready at once.`,
		Example: `  tegata agent run --settings /etc/tegata/agent.json
  tegata agent run --settings settings.json --listen 127.0.0.1:9466 --log-format json
  systemctl enable --now tegata-agent    # deploy/tegata-agent.service`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var override func(*agent.Plan)
			if cmd.Flags().Changed("listen") {
				override = func(p *agent.Plan) { p.Listen = listen }
			}
			a, s, p, log, err := f.newAgent(g, cmd, override)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if p.Listen != "" {
				addr, _, err := a.Serve(ctx, p.Listen)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				log.Info("serving /healthz, /readyz and /metrics", "address", addr.String())
			}
			log.Info("agent started", "settings", s.File, "schema", p.Schema.String(), "certificates", len(p.Targets),
				"interval", p.PollingInterval.String(), "requireInitialSync", p.RequireInitialSync, "status", p.StatusFile)
			if err := a.Run(ctx); err != nil {
				return &exitError{code: 1, err: err}
			}
			log.Info("agent stopped")
			return nil
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringVar(&listen, "listen", "", "serve /healthz, /readyz and /metrics here, e.g. 127.0.0.1:9466 (default tegata.listen; none when empty)")
	return cmd
}

func newAgentOnceCmd(g *globals) *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "once",
		Short: "Sync every certificate once and exit: 0 only when every certificate is current",
		Long: `Poll each observed certificate once, install what is new, run the hooks that are due
(including hooks that failed in an earlier run), write the status file and exit. The exit
status is 0 only when every certificate was read from the vault, is installed and its
hooks ran; 1 otherwise; 2 for unusable settings. For cron jobs, scripts and CI.`,
		Example: `  tegata agent once --settings /etc/tegata/agent.json
  tegata agent once --settings settings.json --output json | jq '.certificates[] | select(.error)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, _, p, _, err := f.newAgent(g, cmd, nil)
			if err != nil {
				return err
			}
			r := a.SyncOnce(cmd.Context())
			out := cmd.OutOrStdout()
			if g.output == "json" {
				if err := printJSON(out, map[string]any{"ok": r.OK(), "certificates": r.Certificates}); err != nil {
					return err
				}
			} else {
				for _, c := range r.Certificates {
					line := fmt.Sprintf("%-7s %s", c.State, c.Link)
					if c.Version != "" {
						line += " version " + c.Version
					}
					if c.Changed {
						line += " (installed now)"
					}
					if c.Error != "" {
						line += ": " + c.Error
					}
					fmt.Fprintln(out, line)
				}
			}
			if !r.OK() {
				return &exitError{code: 1, err: errors.New("not every certificate is current; see the lines above and the status file " + p.StatusFile)}
			}
			return nil
		},
	}
	f.register(cmd, true)
	addOutputFlag(cmd, g)
	return cmd
}

func newAgentCheckCmd(g *globals) *cobra.Command {
	var f agentFlags
	var platform string
	cmd := &cobra.Command{
		Use:     "check",
		Aliases: []string{"validate"},
		Short:   "Validate a settings file and show what would be watched and where each file would go",
		Long: `Read the settings file strictly and print the plan: every observed certificate, where its
files would go (or, for Windows, which certificate store), their mode, owner, ACLs and
extra formats, the hooks, the token endpoint and the warnings. Nothing is contacted or
written. Errors name the line, the column and the JSON path of the field, and exit 2.

--platform checks settings meant for another machine: a Windows file (certificateStoreLocation
LocalMachine) is refused for Linux and accepted for Windows.`,
		Example: `  tegata agent check --settings settings.json
  tegata agent check --settings settings.json --platform windows
  az vm extension show -g rg --vm-name vm1 -n KeyVaultForLinux | tegata agent check --settings - --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			goos := platform
			if goos == "" {
				goos = runtime.GOOS
			}
			if goos != "linux" && goos != "windows" {
				return &exitError{code: 2, err: fmt.Errorf("--platform %q: use linux or windows", platform)}
			}
			s, p, err := f.plan(cmd.InOrStdin(), goos)
			out := cmd.OutOrStdout()
			if err != nil {
				if g.output == "json" {
					var es agent.SettingsErrors
					if errors.As(err, &es) {
						_ = printJSON(out, map[string]any{"ok": false, "errors": es})
					}
				}
				if errors.Is(err, agent.ErrWrongPlatform) && platform == "" {
					err = &exitError{code: 2, err: fmt.Errorf("%w\n(settings for another platform: check them with --platform %s)", err, otherPlatform(goos))}
				}
				return err
			}
			if g.output == "json" {
				return printJSON(out, map[string]any{"ok": true, "file": s.File, "plan": p})
			}
			printPlan(out, s, p)
			return nil
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVar(&platform, "platform", "", "plan for linux or windows (default this machine's)")
	addOutputFlag(cmd, g)
	return cmd
}

func otherPlatform(goos string) string {
	if goos == "windows" {
		return "linux"
	}
	return "windows"
}

// printPlan writes a plan for people.
func printPlan(w io.Writer, s *agent.Settings, p *agent.Plan) {
	fmt.Fprintf(w, "%s: valid, schema %s (%s), for %s\n", s.File, p.Schema, p.SchemaSource, p.Platform)
	fmt.Fprintf(w, "  poll every %s (±10 %%, at most ±60 s); requireInitialSync %v\n", p.PollingInterval, p.RequireInitialSync)
	who := "the system-assigned identity"
	if p.ClientID != "" {
		who = "the identity with client id " + p.ClientID
	}
	fmt.Fprintf(w, "  tokens for %s from %s\n", who, p.TokenURL)
	trust := "system roots"
	if p.CAFile != "" {
		trust += " and " + p.CAFile
	}
	fmt.Fprintf(w, "  vault api-version %s; TLS trusts %s", p.APIVersion, trust)
	if p.Resource != "" {
		fmt.Fprintf(w, "; token resource %s", p.Resource)
	}
	fmt.Fprintf(w, "\n  status %s", p.StatusFile)
	if p.Listen != "" {
		fmt.Fprintf(w, "; /healthz, /readyz, /metrics on %s", p.Listen)
	}
	fmt.Fprintln(w)
	for i, t := range p.Targets {
		what := "latest version"
		if t.Pinned {
			what = "pinned version " + t.Secret.Version
		}
		fmt.Fprintf(w, "\n%d. %s (%s)\n", i+1, t.URL, what)
		if p.Platform == "windows" {
			fmt.Fprintf(w, "   store     %s (intermediates to CA; roots never installed)\n", t.Store)
			if len(t.Accounts) > 0 {
				fmt.Fprintf(w, "   accounts  %s (read access to the private key)\n", strings.Join(t.Accounts, ", "))
			}
			fmt.Fprintf(w, "   renewal   linkOnRenewal %v; keyExportable %v\n", t.LinkOnRenewal, t.KeyExportable)
			continue
		}
		fmt.Fprintf(w, "   link      %s -> %s\n", t.LinkPath, strings.TrimPrefix(t.VersionFiles, t.Dir+"/"))
		fmt.Fprintf(w, "   files     %s: %s\n", t.VersionFiles, t.Content)
		owner := "the agent's user"
		if t.Owner != "" {
			owner = t.Owner
		}
		group := "the agent's group"
		if t.Group != "" {
			group = t.Group
		}
		fmt.Fprintf(w, "   access    mode %s, owner %s, group %s; directory %s created 0700 when missing\n", t.ModeText, owner, group, t.Dir)
		for _, a := range t.ACLs {
			var parts []string
			if a.User != "" {
				parts = append(parts, "user "+a.User)
			}
			if a.Group != "" {
				parts = append(parts, "group "+a.Group)
			}
			fmt.Fprintf(w, "   acl       %s: r-- on the files, --x on the directories above\n", strings.Join(parts, ", "))
		}
		if len(t.Formats) > 0 {
			fmt.Fprintf(w, "   formats   %s/current/{%s}\n", t.FormatsDir, strings.Join(t.Formats, ","))
		}
		fmt.Fprintf(w, "   keep      the current version and %d previous\n", t.Retain)
		for _, h := range t.Hooks {
			fmt.Fprintf(w, "   hook      %s (timeout %s)\n", h.String(), h.Timeout.Round(time.Second))
		}
	}
	if p.Platform == "windows" {
		fmt.Fprintln(w, "\nnote: tegata's agent checks Windows settings but does not install into the Windows certificate store yet.")
	}
	if len(p.Warnings) > 0 {
		fmt.Fprintln(w, "\nwarnings:")
		for _, wn := range p.Warnings {
			fmt.Fprintln(w, "  "+wn.String())
		}
	}
}

func newAgentStatusCmd(g *globals) *cobra.Command {
	var statusFile string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the agent installed, from its status file",
		Example: `  tegata agent status
  tegata agent status --status-file /var/lib/tegata/agent/status.json --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := agent.ReadStatus(statusFile)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("%w (is the agent running? give --status-file)", err)}
			}
			out := cmd.OutOrStdout()
			if g.output == "json" {
				return printJSON(out, st)
			}
			fmt.Fprintf(out, "%s at %s (ready %v): %s\n", st.State, st.Time.Format(time.RFC3339), st.Ready, st.Message)
			for _, c := range st.Certificates {
				line := fmt.Sprintf("  %-13s %s", c.State, c.Link)
				if c.InstalledVersion != "" {
					line += " version " + c.InstalledVersion
				}
				if c.NotAfter != nil {
					line += fmt.Sprintf(", expires %s (%.0f days)", c.NotAfter.Format(time.RFC3339), time.Until(*c.NotAfter).Hours()/24)
				}
				if c.Error != nil {
					line += ": " + *c.Error
				}
				fmt.Fprintln(out, line)
			}
			if st.State != agent.StateSuccess {
				return &exitError{code: 1, err: fmt.Errorf("the agent's state is %s", st.State)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&statusFile, "status-file", agent.DefaultStatusFile, "the agent's status file")
	addOutputFlag(cmd, g)
	return cmd
}
