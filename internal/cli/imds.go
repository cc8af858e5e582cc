package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tegata-project/tegata/internal/config"
	"github.com/tegata-project/tegata/internal/imds"
	"github.com/tegata-project/tegata/internal/instance"
)

func newIMDSCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "imds",
		Short: "The Azure IMDS-compatible metadata service",
		Long: `The metadata service answers Azure's Instance Metadata Service protocol
(/metadata/instance, /metadata/versions, /metadata/scheduledevents,
/metadata/loadbalancer, /metadata/identity) byte for byte, so unmodified clients work.

A second listener, the admin port, serves /metrics, /healthz and the control API that
the events, faults and reload commands below talk to.`,
	}
	cmd.AddCommand(newIMDSServeCmd(g), newEventsCmd(g), newFaultsCmd(g), newReloadCmd(g), newRequestsCmd(g), newInventoryCmd(g), newClockCmd(g))
	return cmd
}

// imdsFlags are the flags shared by `imds serve` and `up` for the metadata service.
type imdsFlags struct {
	listen, admin, inventory string
	rateLimit                bool
}

func (f *imdsFlags) register(cmd *cobra.Command, prefix string) {
	fl := cmd.Flags()
	fl.StringVar(&f.listen, prefix+"listen", "", "metadata listener host:port (default 127.0.0.1:8254)")
	fl.StringVar(&f.admin, prefix+"admin-listen", "", "admin listener host:port: /metrics, /healthz, control API (default 127.0.0.1:8255)")
	fl.StringVar(&f.inventory, "inventory", "", "YAML inventory of instances (default: one generated instance answers every caller)")
	fl.BoolVar(&f.rateLimit, "rate-limit", false, "enforce Azure's limits: 5 requests/s per VM, identity 20/s and 5 concurrent")
}

func (f *imdsFlags) overrides(cmd *cobra.Command, prefix string) []flagOverride {
	fl := cmd.Flags()
	return []flagOverride{func(cfg *config.Config) {
		if fl.Changed(prefix + "listen") {
			cfg.IMDS.Listen = f.listen
		}
		if fl.Changed(prefix + "admin-listen") {
			cfg.IMDS.AdminListen = f.admin
		}
		if fl.Changed("inventory") {
			cfg.IMDS.Inventory = f.inventory
		}
		if fl.Changed("rate-limit") {
			cfg.IMDS.RateLimit.Enabled = f.rateLimit
		}
	}}
}

func newIMDSServeCmd(g *globals) *cobra.Command {
	var f imdsFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the metadata service alone",
		Long: `Run the metadata service until interrupted (SIGINT or SIGTERM end it gracefully).

Without --inventory one generated instance answers every caller; its vmId is kept in
the data directory so it stays the same across restarts. With --inventory each caller
is identified by its source address; the file is reloaded when it changes or on SIGHUP,
and a bad file is reported (file:line) while the old inventory keeps serving.

To serve on Azure's address, 169.254.169.254:80, see docs/imds.md.`,
		Example: `  tegata imds serve
  tegata imds serve --listen 127.0.0.1:8254 --inventory inventory.yaml
  curl -s -H Metadata:true "http://127.0.0.1:8254/metadata/instance?api-version=2021-02-01"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(g, f.overrides(cmd, ""))
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, os.Stderr)
			r, err := startIMDS(cmd.Context(), cfg, nil, log)
			if err != nil {
				return err
			}
			return <-r.done
		},
	}
	f.register(cmd, "")
	return cmd
}

// adminClient talks to a running metadata service's control API.
type adminClient struct {
	base string
	http *http.Client
}

func addAdminFlag(cmd *cobra.Command, target *string) {
	cmd.Flags().StringVar(target, "admin", "", "admin address of the running service (default: imds.admin_listen from the configuration)")
}

func newAdminClient(g *globals, admin string) (*adminClient, error) {
	if admin == "" {
		cfg, _, err := config.Load(g.configPath, os.Environ())
		if err != nil {
			return nil, err
		}
		admin = cfg.IMDS.AdminListen
	}
	if !strings.Contains(admin, "://") {
		admin = "http://" + admin
	}
	return &adminClient{base: strings.TrimSuffix(admin, "/"), http: &http.Client{Timeout: 15 * time.Second}}, nil
}

// do sends a request and decodes a JSON answer into out; a non-2xx answer becomes an
// error carrying the service's message.
func (c *adminClient) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w: is the service running (tegata up, or tegata imds serve)? Give its admin address with --admin", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s", e.Error)
		}
		return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

func newReloadCmd(g *globals) *cobra.Command {
	var admin string
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Reload the inventory file of a running service",
		Long: `Reload the inventory file of a running metadata service now, and report its errors.
A bad file is rejected with its file:line and the old inventory keeps serving.
(The service also reloads by itself when the file changes, and on SIGHUP.)`,
		Example: `  tegata imds reload`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAdminClient(g, admin)
			if err != nil {
				return err
			}
			var out map[string]int
			if err := c.do(http.MethodPost, "/admin/inventory/reload", nil, &out); err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "inventory reloaded: %d instances\n", out["instances"])
			return nil
		},
	}
	addAdminFlag(cmd, &admin)
	addOutputFlag(cmd, g)
	return cmd
}

func newRequestsCmd(g *globals) *cobra.Command {
	var admin string
	cmd := &cobra.Command{
		Use:   "requests",
		Short: "Show the latest metadata requests (who asked what, with which headers)",
		Long: `Show the latest 1000 metadata requests a running service answered: instance, method,
path, query, status, the Metadata header and User-Agent. Use it in CI to assert what
your client sent.`,
		Example: `  tegata imds requests
  tegata imds requests --output json | jq '.[] | select(.status != 200)'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAdminClient(g, admin)
			if err != nil {
				return err
			}
			var recs []imds.RequestRecord
			if err := c.do(http.MethodGet, "/admin/requests", nil, &recs); err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), recs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tINSTANCE\tMETHOD\tSTATUS\tPATH\tQUERY")
			for _, r := range recs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", r.Time.Format(time.TimeOnly), r.Instance, r.Method, r.Status, r.Path, r.Query)
			}
			return tw.Flush()
		},
	}
	addAdminFlag(cmd, &admin)
	addOutputFlag(cmd, g)
	return cmd
}

// LoopbackAddress is the 127/8 address `inventory generate --loopback-addresses` gives
// the i-th instance; Linux lets a client bind any of them, so one host can call as
// many VMs. Octets stay within 1-250.
func LoopbackAddress(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, byte(1 + i/(250*250)), byte(1 + (i/250)%250), byte(1 + i%250)})
}

func newInventoryCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Check or generate inventory files",
	}
	check := &cobra.Command{
		Use:     "check FILE",
		Short:   "Validate an inventory file and list its instances",
		Example: `  tegata imds inventory check inventory.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := instance.LoadFile(args[0])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]int{"instances": inv.Len()})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d instances, valid\n", args[0], inv.Len())
			return nil
		},
	}
	addOutputFlag(check, g)
	var count int
	var seed int64
	var loopback bool
	gen := &cobra.Command{
		Use:     "generate",
		Short:   "Write an inventory of N realistic instances (for load tests) to stdout",
		Example: `  tegata imds inventory generate --count 10000 > inventory.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 1 || count > 100_000 {
				return &exitError{code: 2, err: fmt.Errorf("--count %d: use 1 to 100000", count)}
			}
			inv := instance.Generate(count, seed)
			if loopback {
				for i, in := range inv.All() {
					in.Addresses = append(in.Addresses, LoopbackAddress(i).String())
				}
			}
			return inv.WriteYAML(cmd.OutOrStdout())
		},
	}
	gen.Flags().IntVar(&count, "count", 10, "number of instances")
	gen.Flags().Int64Var(&seed, "seed", 1, "seed, so the same command writes the same file")
	gen.Flags().BoolVar(&loopback, "loopback-addresses", false, "also give instance i the address 127.b.c.d (see bench/fleet), so a load test on one host can call as every VM")
	cmd.AddCommand(check, gen)
	return cmd
}
