package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/cells/observe/flow"
)

func init() { extraCommands = append(extraCommands, newObserveCmd) }

// Output formats of hivenet observe, named as hubble observe names them;
// json is an alias of jsonpb, as in current Hubble.
const (
	outputCompact = "compact"
	outputJSON    = "json"
	outputJSONPB  = "jsonpb"
)

func newObserveCmd() *cobra.Command {
	var (
		q      flow.Query
		output string
	)
	cmd := &cobra.Command{
		Use:   "observe",
		Short: "Show the flows of this node, as hubble observe does",
		Long: "Show the flows the datapath reported on this node, one line per flow, as `hubble observe`\n" +
			"prints them. Without --follow or --last it shows the last 20. Filters run in the agent;\n" +
			"a flag given several times matches any of its values, different flags must all match.",
		Example: "  hivenet observe --last 20\n" +
			"  hivenet observe --namespace default -f\n" +
			"  hivenet observe --verdict DROPPED --to-pod default/server -o json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch output {
			case outputCompact, outputJSON, outputJSONPB:
			default:
				return fmt.Errorf("invalid value %q for -o: want compact, json or jsonpb", output)
			}
			if q.Last < 0 {
				return fmt.Errorf("invalid value %d for --last: want a number of flows >= 0", q.Last)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return streamFlows(ctx, cmd.OutOrStdout(), q, output)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&q.Follow, "follow", "f", false, "Keep printing new flows as they arrive, until interrupted")
	fl.IntVar(&q.Last, "last", 0, fmt.Sprintf("Print the last N matching flows first (default %d without --follow)", flow.DefaultLast))
	fl.StringVarP(&output, "output", "o", outputCompact, "Output format: compact, json or jsonpb (json is jsonpb: one GetFlowsResponse object per line)")
	for _, f := range q.Filter.Fields() {
		fl.StringArrayVar(f.Values, f.Name, nil, f.Help)
	}
	cmd.AddCommand(newObserveStatusCmd())
	return cmd
}

// streamFlows streams GET /v1/flows to w until the agent ends the stream or
// ctx is cancelled (Ctrl-C), which is a normal end of --follow.
func streamFlows(ctx context.Context, w io.Writer, q flow.Query, output string) error {
	resp, err := agentStream(ctx, "/v1/flows?"+q.Values().Encode())
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer resp.Body.Close()
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	rd := bufio.NewReaderSize(resp.Body, 64<<10)
	for {
		line, err := rd.ReadBytes('\n')
		if len(line) > 0 {
			if perr := printFlowLine(bw, line, output); perr != nil {
				return perr
			}
		}
		// Flush whenever no more input is buffered, so --follow prints
		// flows as they come and a long history is written in big chunks.
		if rd.Buffered() == 0 {
			if ferr := bw.Flush(); ferr != nil {
				return ferr
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return nil
		case ctx.Err() != nil:
			return nil
		default:
			return fmt.Errorf("reading flows from the agent: %w", err)
		}
	}
}

func printFlowLine(w io.Writer, line []byte, output string) error {
	if output != outputCompact {
		_, err := w.Write(line)
		return err
	}
	var r flow.Response
	if err := json.Unmarshal(line, &r); err != nil {
		return fmt.Errorf("decoding a flow from the agent: %w", err)
	}
	if r.Flow == nil {
		return nil
	}
	_, err := fmt.Fprintln(w, flow.Compact(r.Flow))
	return err
}

// agentStream is agentGet without the client's overall timeout, which
// would cut a --follow stream after 30 seconds.
func agentStream(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://hivenet-agent"+path, nil)
	if err != nil {
		return nil, err
	}
	c := agentClient()
	c.Timeout = 0
	resp, err := c.Do(req)
	if err != nil {
		return nil, unreachable(err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, apiError(resp)
	}
	return resp, nil
}

func newObserveStatusCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the flow buffer's fill, flows/s and lost events, as hubble status does",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("invalid value %q for -o: want text or json", output)
			}
			var st flow.Status
			if err := agentGetJSON(cmd.Context(), "/v1/flows/status", &st); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			fmt.Fprintf(w, "Healthcheck (via unix://%s): Ok\n", socketPath)
			st.Print(w)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "Output format: text or json")
	return cmd
}
