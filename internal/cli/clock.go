package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
)

// travelClock is the service's clock: the real time plus an offset that only moves
// forward, and only when time_travel is on.
type travelClock struct{ offset atomic.Int64 }

func (c *travelClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// maxTravel bounds one jump.
const maxTravel = 10 * 365 * 24 * time.Hour

// handler is GET/POST /admin/clock: {"advance":"240h"} moves the clock forward.
func (c *travelClock) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			var req struct{ Advance string }
			d, err := time.Duration(0), json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req)
			if err == nil {
				d, err = time.ParseDuration(req.Advance)
			}
			if err != nil || d <= 0 || d > maxTravel {
				w.WriteHeader(http.StatusBadRequest)
				json.NewEncoder(w).Encode(map[string]string{"error": `send {"advance":"<duration>"}, forward only, at most 87600h`})
				return
			}
			c.offset.Add(int64(d))
		}
		json.NewEncoder(w).Encode(map[string]string{"now": c.Now().UTC().Format(time.RFC3339), "offset": time.Duration(c.offset.Load()).String()})
	})
}

func newClockCmd(g *globals) *cobra.Command {
	var admin string
	cmd := &cobra.Command{
		Use:   "clock [advance DURATION]",
		Short: "Show, or move forward, the clock of a running service started with time_travel: true",
		Long: `Jump a running service's clock forward, to see scheduled events start and end, documents
expire, and planned Sub CA rotations happen, without waiting. The service must run with
time_travel: true (TEGATA_TIME_TRAVEL=true); never use it in production: the PKI issues and
keeps certificates for the moment the clock shows.`,
		Example: `  TEGATA_TIME_TRAVEL=true tegata up
  tegata imds clock advance 2160h   # 90 days
  tegata imds clock`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newAdminClient(g, admin)
			if err != nil {
				return err
			}
			var out map[string]string
			switch {
			case len(args) == 0:
				err = c.do(http.MethodGet, "/admin/clock", nil, &out)
			case len(args) == 2 && args[0] == "advance":
				err = c.do(http.MethodPost, "/admin/clock", map[string]string{"advance": args[1]}, &out)
			default:
				return &exitError{code: 2, err: fmt.Errorf("use `tegata imds clock` or `tegata imds clock advance DURATION`")}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "service time %s (offset %s)\n", out["now"], out["offset"])
			return nil
		},
	}
	addAdminFlag(cmd, &admin)
	return cmd
}
