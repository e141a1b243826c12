package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/cells/policy"
)

func init() { extraCommands = append(extraCommands, newPolicyCmd) }

// newPolicyCmd is `hivenet policy`: the policies the agent enforces and
// the entries they resolve to per endpoint.
func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Inspect network policy", Args: cobra.NoArgs}
	var output string
	get := &cobra.Command{
		Use:   "get",
		Short: "Show the policies (valid or rejected, and why) and each endpoint's resolved entries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var sts []policy.Status
			if err := agentGetJSON(cmd.Context(), "/v1/policy/status", &sts); err != nil {
				return err
			}
			var eps []policy.EndpointPolicy
			if err := agentGetJSON(cmd.Context(), "/v1/policy", &eps); err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"policies": sts, "endpoints": eps})
			}
			if output != "" && output != "table" {
				return fmt.Errorf("invalid value %q for -o: want table or json", output)
			}
			printPolicies(cmd.OutOrStdout(), sts, eps)
			return nil
		},
	}
	get.Flags().StringVarP(&output, "output", "o", "table", "Output format: table or json")
	cmd.AddCommand(get)
	return cmd
}

func printPolicies(w io.Writer, sts []policy.Status, eps []policy.EndpointPolicy) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "POLICY\tVALID\tRULES\tERROR")
	for _, s := range sts {
		valid := "yes"
		if !s.Valid {
			valid = "no"
			if s.Enforcing {
				valid = "no (last valid version enforced)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", s.Name, valid, s.Rules, s.Error)
	}
	tw.Flush()
	for _, ep := range eps {
		fmt.Fprintf(w, "\nEndpoint %d %s (identity %d)\n", ep.Endpoint, ep.Pod, ep.Identity)
		printPolicyEntries(w, ep.Entries, false)
	}
}

// printPolicyEntries prints entries in the columns of cilium-dbg bpf
// policy get.
func printPolicyEntries(w io.Writer, es []policy.MapEntry, counters bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	if counters {
		fmt.Fprintln(tw, "POLICY\tDIRECTION\tIDENTITY\tPORT/PROTO\tPACKETS\tBYTES\tPOLICIES")
	} else {
		fmt.Fprintln(tw, "POLICY\tDIRECTION\tIDENTITY\tPORT/PROTO\tPOLICIES\tSTATUS")
	}
	for _, e := range es {
		if counters {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%s\n", e.Policy, e.Direction, e.Identity, e.Port, e.Packets, e.Bytes, e.Policies)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", e.Policy, e.Direction, e.Identity, e.Port, e.Policies, e.Status)
		}
	}
	tw.Flush()
}
