package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/cells/ipcache"
)

func init() { bpfSubcommands = append(bpfSubcommands, newBPFIPCacheCmd) }

// newBPFIPCacheCmd is `hivenet bpf ipcache`: cilium_ipcache as the kernel
// holds it.
func newBPFIPCacheCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "ipcache", Short: "IP to identity cache", Args: cobra.NoArgs}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List prefixes and their identities, as cilium-dbg bpf ipcache list",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var es []ipcache.MapEntry
			if err := agentGetJSON(cmd.Context(), "/v1/bpf/ipcache", &es); err != nil {
				return err
			}
			printIPCache(cmd.OutOrStdout(), es)
			return nil
		},
	})
	return cmd
}

func printIPCache(w io.Writer, es []ipcache.MapEntry) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "IP PREFIX/ADDRESS\tIDENTITY")
	for _, e := range es {
		tun := "0.0.0.0"
		if e.TunnelEndpoint.IsValid() {
			tun = e.TunnelEndpoint.String()
		}
		fmt.Fprintf(tw, "%s\tidentity=%d encryptkey=%d tunnelendpoint=%s flags=%#x\n", e.Prefix, e.Identity, e.EncryptKey, tun, e.Flags)
	}
	tw.Flush()
}
