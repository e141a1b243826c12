// Command hivenet is the command-line interface to a node's hivenet agent:
// status, the state database, BPF maps and flows.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		// Errors are written for people: one line, no usage dump.
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "hivenet",
		Short:         "Inspect and operate the hivenet agent on this node",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentFlags().StringVarP(&socketPath, "socket", "s", defaultSocket(),
		"Agent API socket (or set "+socketEnv+")")
	root.AddCommand(newVersionCmd(), newStatusCmd())
	for _, c := range extraCommands {
		root.AddCommand(c())
	}
	return root
}

// extraCommands are the subcommands defined in other files of this package;
// each file adds its constructor in an init function so that adding a command
// touches only its own file.
var extraCommands []func() *cobra.Command
