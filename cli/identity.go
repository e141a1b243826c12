package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/cells/identity"
)

func init() { extraCommands = append(extraCommands, newIdentityCmd) }

// newIdentityCmd is `hivenet identity`: the security identities this node
// knows (reserved, cluster and CIDR).
func newIdentityCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "identity", Short: "Inspect security identities", Args: cobra.NoArgs}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List identities and their labels, as cilium-dbg identity list",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var es []identity.Entry
			if err := agentGetJSON(cmd.Context(), "/v1/identities", &es); err != nil {
				return err
			}
			printIdentities(cmd.OutOrStdout(), es)
			return nil
		},
	})
	return cmd
}

// printIdentities prints one label per line, the identity's number on its
// first, as cilium-dbg identity list does.
func printIdentities(w io.Writer, es []identity.Entry) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tLABELS")
	for _, e := range es {
		if len(e.Labels) == 0 {
			fmt.Fprintf(tw, "%d\t\n", e.ID)
		}
		for i, l := range e.Labels {
			id := ""
			if i == 0 {
				id = fmt.Sprint(e.ID)
			}
			fmt.Fprintf(tw, "%s\t%s\n", id, strings.TrimSuffix(l, "="))
		}
	}
	tw.Flush()
}
