package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/bpf"
)

func init() { bpfSubcommands = append(bpfSubcommands, newBPFLBCmd) }

// newBPFLBCmd is `hivenet bpf lb`: the load-balancer maps as the kernel
// holds them.
func newBPFLBCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "lb", Short: "Load-balancer maps (services, backends)", Args: cobra.NoArgs}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List frontends and their backend slots from the BPF maps, as cilium-dbg bpf lb list",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var es []bpf.LBEntry
			if err := agentGetJSON(cmd.Context(), "/v1/bpf/lb", &es); err != nil {
				return err
			}
			printLB(cmd.OutOrStdout(), es)
			return nil
		},
	})
	return cmd
}

func printLB(w io.Writer, es []bpf.LBEntry) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "SERVICE ADDRESS\tBACKEND ADDRESS (REVNAT_ID) (SLOT)")
	for _, e := range es {
		fmt.Fprintf(tw, "%s (%d)\t0.0.0.0:0 (%d) (0) [%s]\n", e.Frontend, e.ID, e.ID, svcFlags(e.Flags))
		for _, b := range e.Backends {
			if b.Address == "" {
				fmt.Fprintf(tw, "\t%s (%d) (%d)\n", b, e.ID, b.Slot)
				continue
			}
			fmt.Fprintf(tw, "\t%s (%d) (%d) [%s]\n", b.Address, e.ID, b.Slot, b.State)
		}
	}
	tw.Flush()
}

// svcFlags names slot 0's flags as cilium-dbg does.
func svcFlags(f uint8) string {
	var names []string
	for _, n := range []struct {
		bit  uint8
		name string
	}{
		{bpf.SvcFlagExternalIP, "ExternalIPs"},
		{bpf.SvcFlagNodePort, "NodePort"},
		{bpf.SvcFlagLoadBalancer, "LoadBalancer"},
		{bpf.SvcFlagExtLocalScope, "Local"},
		{bpf.SvcFlagAffinity, "sessionAffinity"},
	} {
		if f&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 || f&(bpf.SvcFlagExternalIP|bpf.SvcFlagNodePort|bpf.SvcFlagLoadBalancer) == 0 {
		names = append([]string{"ClusterIP"}, names...)
	}
	return strings.Join(names, ", ")
}
