package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/cells/services"
)

func init() { extraCommands = append(extraCommands, newServiceCmd) }

// newServiceCmd is `hivenet service`: the load balancer's frontends and
// backends as the agent wants them in the maps.
func newServiceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "service",
		Aliases: []string{"services", "svc"},
		Short:   "Inspect the services load-balanced on this node (kube-proxy replacement)",
		Args:    cobra.NoArgs,
	}
	var output string
	list := &cobra.Command{
		Use:   "list",
		Short: "List frontends and their backends, with the columns of cilium-dbg service list",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var es []services.ServiceEntry
			if err := agentGetJSON(cmd.Context(), "/v1/services", &es); err != nil {
				return err
			}
			switch output {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(es)
			case "", "table":
				printServices(cmd.OutOrStdout(), es)
				return nil
			}
			return fmt.Errorf("invalid value %q for -o: want table or json", output)
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "table", "Output format: table or json")
	cmd.AddCommand(list)
	return cmd
}

// printServices prints one line per backend, the frontend's columns only
// on its first, as cilium-dbg service list does.
func printServices(w io.Writer, es []services.ServiceEntry) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tFrontend\tService Type\tBackend")
	for _, e := range es {
		if len(e.Backends) == 0 {
			fmt.Fprintf(tw, "%d\t%s\t%s\t\n", e.ID, e.Frontend, e.Type)
			continue
		}
		for i, b := range e.Backends {
			if i == 0 {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d => %s\n", e.ID, e.Frontend, e.Type, i+1, b)
			} else {
				fmt.Fprintf(tw, "\t\t\t%d => %s\n", i+1, b)
			}
		}
	}
	tw.Flush()
}
