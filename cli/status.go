package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
)

func newStatusCmd() *cobra.Command {
	var (
		output   string
		wait     bool
		waitFor  time.Duration
		verbose  bool
		interval = 500 * time.Millisecond
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the agent's health, module by module",
		Long: "Print the agent's health, module by module, like cilium-dbg status.\n" +
			"Exits non-zero when the agent is unreachable or, with --wait, not healthy in time.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" && output != "json" && output != "text" {
				return fmt.Errorf("invalid value %q for -o: want text or json", output)
			}
			st, err := fetchStatus(cmd.Context(), wait, waitFor, interval)
			if st != nil {
				if output == "json" {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					if jerr := enc.Encode(st); jerr != nil {
						return jerr
					}
				} else {
					printStatus(cmd.OutOrStdout(), st, verbose)
				}
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "Output format: text or json")
	cmd.Flags().BoolVar(&wait, "wait", false, "Wait until the agent is reachable and every module is OK")
	cmd.Flags().DurationVar(&waitFor, "wait-duration", 5*time.Minute, "How long --wait waits")
	cmd.Flags().BoolVar(&verbose, "verbose", false, "Show every health report, not only each module's worst")
	return cmd
}

// fetchStatus gets the agent's status once or, with wait, until it is OK or
// the deadline passes. It returns the last status it got along with any error.
func fetchStatus(ctx context.Context, wait bool, waitFor, interval time.Duration) (*api.Status, error) {
	if !wait {
		st, err := getStatus(ctx)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	ctx, cancel := context.WithTimeout(ctx, waitFor)
	defer cancel()
	var last *api.Status
	var lastErr error
	for {
		st, err := getStatus(ctx)
		if err == nil {
			last = st
			if st.Level == cell.LevelOK {
				return st, nil
			}
			lastErr = fmt.Errorf("agent is %s", strings.ToLower(string(st.Level)))
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("agent not healthy after %s: %w", waitFor, lastErr)
		case <-time.After(interval):
		}
	}
}

func getStatus(ctx context.Context) (*api.Status, error) {
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var st api.Status
	if err := agentGetJSON(c, "/v1/status", &st); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return &st, nil
}

func printStatus(w io.Writer, st *api.Status, verbose bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	ok := 0
	for _, m := range st.Modules {
		if m.Level == cell.LevelOK {
			ok++
		}
	}
	fmt.Fprintf(tw, "Agent:\t%s\t%s %s, %s, up %s\n", st.Level, st.Name, st.Version, st.GoVersion, time.Since(st.Started).Round(time.Second))
	var on, off []string
	for _, f := range st.Features {
		name := strings.TrimPrefix(f.Flag, "enable-")
		if f.Enabled {
			on = append(on, name)
		} else {
			off = append(off, name)
		}
	}
	if len(st.Features) > 0 {
		fmt.Fprintf(tw, "Features:\t\tenabled: %s; disabled: %s\n", orNone(on), orNone(off))
	}
	fmt.Fprintf(tw, "Modules:\t%d/%d OK\t\n", ok, len(st.Modules))
	for _, m := range st.Modules {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t(%s ago)\n", m.ID, m.Level, m.Message, ago(m.Updated))
		if verbose {
			for _, r := range m.Reports {
				msg := r.Message
				if r.Error != "" {
					msg += ": " + r.Error
				}
				fmt.Fprintf(tw, "    %s\t%s\t%s\t(since %s)\n", r.ID, r.Level, msg, ago(r.Since))
			}
		}
	}
	tw.Flush()
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return time.Since(t).Round(time.Second).String()
}
