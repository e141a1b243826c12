package main

import (
	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/cells/policy"
)

func init() { bpfSubcommands = append(bpfSubcommands, newBPFPolicyCmd) }

// newBPFPolicyCmd is `hivenet bpf policy`: an endpoint's policy map as the
// kernel holds it.
func newBPFPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Per-endpoint policy maps", Args: cobra.NoArgs}
	cmd.AddCommand(&cobra.Command{
		Use:   "get <endpoint id>",
		Short: "Show an endpoint's policy map, as cilium-dbg bpf policy get",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var es []policy.MapEntry
			if err := agentGetJSON(cmd.Context(), "/v1/bpf/policy/"+args[0], &es); err != nil {
				return err
			}
			printPolicyEntries(cmd.OutOrStdout(), es, true)
			return nil
		},
	})
	return cmd
}
