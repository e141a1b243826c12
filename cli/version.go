package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
)

func newVersionCmd() *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the CLI's version and, if an agent is reachable, the agent's",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Client: hivenet %s (%s %s/%s)\n", cell.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if clientOnly {
				return nil
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			var st api.Status
			if err := agentGetJSON(ctx, "/v1/status", &st); err != nil {
				fmt.Fprintf(out, "Agent:  unavailable (%v)\n", err)
				return nil
			}
			fmt.Fprintf(out, "Agent:  %s %s (%s)\n", st.Name, st.Version, st.GoVersion)
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "Print only the CLI's version")
	return cmd
}
