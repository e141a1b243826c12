package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/cells/datapath"
)

func init() { extraCommands = append(extraCommands, newBPFCmd) }

// bpfSubcommands are the map groups of `hivenet bpf` defined in other files
// (lb, ipcache, policy); each appends its constructor in an init function.
var bpfSubcommands []func() *cobra.Command

// newBPFCmd is `hivenet bpf`: the datapath's maps as the kernel holds them.
func newBPFCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bpf",
		Short: "Show the datapath's BPF maps as the kernel holds them",
		Args:  cobra.NoArgs,
	}
	ct := &cobra.Command{Use: "ct", Short: "Connection tracking", Args: cobra.NoArgs}
	ct.AddCommand(&cobra.Command{
		Use:   "list [global]",
		Short: "List conntrack entries, in the format of cilium-dbg bpf ct list global",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && args[0] != "global" {
				return fmt.Errorf("unknown conntrack map %q: hivenet has only the global maps", args[0])
			}
			var entries []datapath.CTEntry
			if err := agentGetJSON(cmd.Context(), "/v1/bpf/ct", &entries); err != nil {
				return err
			}
			for _, e := range entries {
				fmt.Fprintln(cmd.OutOrStdout(), e.Entry)
			}
			return nil
		},
	})
	cmd.AddCommand(ct)
	for _, sub := range bpfSubcommands {
		cmd.AddCommand(sub())
	}
	return cmd
}
