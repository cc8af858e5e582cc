package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tegata-project/tegata/internal/imds"
)

func newEventsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Inject, list, approve and cancel scheduled events on a running service",
		Long: `Scheduled events (/metadata/scheduledevents) for testing your maintenance handlers.

An event starts Scheduled, becomes Started when its NotBefore passes or when it is
approved (by the VM's POST, or by 'approve' here), and disappears once its impact is
over. Every change increments DocumentIncarnation.`,
	}
	var admin, instanceName string
	var req imds.EventRequest
	var duration int
	add := &cobra.Command{
		Use:   "add",
		Short: "Inject a scheduled event",
		Example: `  tegata imds events add --type Reboot --not-before 5m
  tegata imds events add --type Preempt                 # Spot eviction, 30 s notice
  tegata imds events add --type Freeze --status Started # hardware failure: no notice
  tegata imds events add --type Redeploy --instance vm-web-02 --not-before 2026-12-24T03:00:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAdminClient(g, admin)
			if err != nil {
				return err
			}
			req.Instance = instanceName
			if cmd.Flags().Changed("duration") {
				req.Duration = &duration
			}
			var ev json.RawMessage
			if err := c.do(http.MethodPost, "/admin/events", req, &ev); err != nil {
				return err
			}
			return printEvent(cmd, g, ev)
		},
	}
	fl := add.Flags()
	fl.StringVar(&req.Type, "type", "", "Freeze, Reboot, Redeploy, Preempt or Terminate (required)")
	fl.StringVar(&req.NotBefore, "not-before", "", "when it may start: a delay (5m) or an RFC 3339 time (default: the type's minimum notice)")
	fl.StringSliceVar(&req.Resources, "resources", nil, "affected VM names (default: the instance's name)")
	fl.StringVar(&req.Description, "description", "", "Description (default: Azure's text for the type)")
	fl.StringVar(&req.Source, "source", "", "EventSource: Platform or User (default Platform)")
	fl.IntVar(&duration, "duration", 0, "DurationInSeconds (-1 unknown; default per type)")
	fl.StringVar(&req.Status, "status", "", "Scheduled (default) or Started (no notice, like a hardware failure)")
	fl.StringVar(&req.ID, "id", "", "EventId (default: a random GUID)")
	add.MarkFlagRequired("type")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List an instance's current events",
		Example: `  tegata imds events list --output json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAdminClient(g, admin)
			if err != nil {
				return err
			}
			var evs []json.RawMessage
			if err := c.do(http.MethodGet, "/admin/events?instance="+url.QueryEscape(instanceName), nil, &evs); err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), evs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EVENT ID\tTYPE\tSTATUS\tNOT BEFORE")
			for _, raw := range evs {
				var e map[string]any
				json.Unmarshal(raw, &e)
				fmt.Fprintf(tw, "%v\t%v\t%v\t%v\n", e["EventId"], e["EventType"], e["EventStatus"], e["NotBefore"])
			}
			return tw.Flush()
		},
	}
	approve := &cobra.Command{
		Use:     "approve EVENT_ID...",
		Short:   "Approve events, as the VM's POST StartRequests would",
		Example: `  tegata imds events approve 9A6E3B1C-0F42-4C67-8D5E-2B7A1C9F0E33`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAdminClient(g, admin)
			if err != nil {
				return err
			}
			var evs []json.RawMessage
			if err := c.do(http.MethodPost, "/admin/events/approve", imds.ApproveRequest{Instance: instanceName, IDs: args}, &evs); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "approved %d event(s)\n", len(args))
			return nil
		},
	}
	cancel := &cobra.Command{
		Use:     "cancel EVENT_ID",
		Short:   "Cancel an event: it disappears, as when Azure cancels maintenance",
		Example: `  tegata imds events cancel 9A6E3B1C-0F42-4C67-8D5E-2B7A1C9F0E33`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAdminClient(g, admin)
			if err != nil {
				return err
			}
			if err := c.do(http.MethodDelete, "/admin/events/"+url.PathEscape(args[0])+"?instance="+url.QueryEscape(instanceName), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cancelled %s\n", args[0])
			return nil
		},
	}
	for _, c := range []*cobra.Command{add, list, approve, cancel} {
		addAdminFlag(c, &admin)
		c.Flags().StringVar(&instanceName, "instance", "", "instance name (default: the inventory's default or only instance)")
		cmd.AddCommand(c)
	}
	addOutputFlag(add, g)
	addOutputFlag(list, g)
	return cmd
}

func printEvent(cmd *cobra.Command, g *globals, ev json.RawMessage) error {
	if g.output == "json" {
		_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s\n", ev)
		return err
	}
	var e map[string]any
	if err := json.Unmarshal(ev, &e); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "added %v %v (%v, not before %v)\n", e["EventType"], e["EventId"], e["EventStatus"], e["NotBefore"])
	return nil
}

func newFaultsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "faults",
		Short: "Inject failures (delay, 404, 410, 429, 500, 503, reset) to test client retries",
		Long: `Faults make a running service fail on purpose, so you can prove your client's retry
logic: Azure's SDKs retry 404, 410, 429 and 5xx; cloud-init retries 404, 410, 429, 500.

A fault hits requests whose path starts with --path, with probability --rate, for the
next --count requests (0: no limit), until --for has passed. DefaultAzureCredential's
header-less identity probe is spared unless --include-probe is given.`,
	}
	var admin string
	var f imds.Fault
	var delay, lasting time.Duration
	add := &cobra.Command{
		Use:   "add",
		Short: "Add a fault",
		Example: `  tegata imds faults add --status 410 --count 3 --path /metadata/instance
  tegata imds faults add --status 429 --rate 0.5 --for 1m
  tegata imds faults add --delay 2s --path /metadata/identity
  tegata imds faults add --reset --count 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAdminClient(g, admin)
			if err != nil {
				return err
			}
			f.Delay = imds.Duration(delay)
			if lasting > 0 {
				f.Until = time.Now().Add(lasting)
			}
			var out imds.Fault
			if err := c.do(http.MethodPost, "/admin/faults", &f, &out); err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), &out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "added %s on %s\n", out.ID, out.PathPrefix)
			return nil
		},
	}
	fl := add.Flags()
	fl.StringVar(&f.PathPrefix, "path", "/metadata/", "path prefix the fault applies to")
	fl.StringVar(&f.Instance, "instance", "", "only this instance (default: every instance)")
	fl.IntVar(&f.Status, "status", 0, "answer with 403 (Docker Desktop unreachable), 404, 410, 429, 500 or 503")
	fl.DurationVar(&delay, "delay", 0, "delay before answering (with no --status the request is then served)")
	fl.BoolVar(&f.Reset, "reset", false, "close the connection without answering")
	fl.Float64Var(&f.Rate, "rate", 1, "probability of hitting a matching request, in (0,1]")
	fl.Int64Var(&f.Count, "count", 0, "hit only the next N matching requests (0: no limit)")
	fl.DurationVar(&lasting, "for", 0, "remove the fault after this long (0: never)")
	fl.BoolVar(&f.IncludeProbe, "include-probe", false, "also hit the header-less identity probe of DefaultAzureCredential")

	list := &cobra.Command{
		Use:   "list",
		Short: "List active faults",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newAdminClient(g, admin)
			if err != nil {
				return err
			}
			var out []*imds.Fault
			if err := c.do(http.MethodGet, "/admin/faults", nil, &out); err != nil {
				return err
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPATH\tSTATUS\tDELAY\tRESET\tRATE\tCOUNT")
			for _, f := range out {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%v\t%g\t%d\n", f.ID, f.PathPrefix, f.Status, time.Duration(f.Delay), f.Reset, f.Rate, f.Count)
			}
			return tw.Flush()
		},
	}
	clear := &cobra.Command{
		Use:     "clear [FAULT_ID]",
		Short:   "Remove one fault, or all of them",
		Example: "  tegata imds faults clear",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAdminClient(g, admin)
			if err != nil {
				return err
			}
			path := "/admin/faults"
			if len(args) == 1 {
				path += "/" + url.PathEscape(args[0])
			}
			return c.do(http.MethodDelete, path, nil, nil)
		},
	}
	for _, c := range []*cobra.Command{add, list, clear} {
		addAdminFlag(c, &admin)
		cmd.AddCommand(c)
	}
	addOutputFlag(add, g)
	addOutputFlag(list, g)
	return cmd
}
