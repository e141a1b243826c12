package cell

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Command returns the root command of a binary built from the hive: its flags
// are the hive's (grouped by module in --help), running it runs the hive, and it
// has a `hive` subcommand that prints the modules, what each provides and
// invokes, and its flags. extra subcommands are added as they are.
func (h *Hive) Command(use, short string, extra ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:           use,
		Short:         short,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := h.NewLogger()
			if err != nil {
				return err
			}
			h.SetLogger(log)
			return h.Run()
		},
	}
	cmd.CompletionOptions.DisableDefaultCmd = true
	h.RegisterFlags(cmd.Flags())
	cmd.SetUsageFunc(func(c *cobra.Command) error {
		h.PrintUsage(c.OutOrStderr(), c)
		return nil
	})
	cmd.SetHelpFunc(func(c *cobra.Command, _ []string) {
		if c != cmd {
			fmt.Fprint(c.OutOrStdout(), c.UsageString())
			return
		}
		if c.Long != "" {
			fmt.Fprintln(c.OutOrStdout(), c.Long)
		} else {
			fmt.Fprintln(c.OutOrStdout(), c.Short)
		}
		fmt.Fprintln(c.OutOrStdout())
		h.PrintUsage(c.OutOrStdout(), c)
	})

	var jsonOut bool
	hiveCmd := &cobra.Command{
		Use:   "hive",
		Short: "Print the modules of this binary: what each provides, invokes and configures",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			// Feature switches are read from the flags given to the root
			// command, so `hive --enable-x` shows the hive with x on.
			inf := h.Info()
			if jsonOut {
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(inf)
			}
			inf.Print(c.OutOrStdout())
			return nil
		},
	}
	hiveCmd.Flags().BoolVar(&jsonOut, "json", false, "Print as JSON")
	// The hive's flags are accepted by `hive` too, so its output reflects them.
	hiveCmd.Flags().AddFlagSet(cmd.Flags())
	cmd.AddCommand(hiveCmd)
	for _, e := range extra {
		cmd.AddCommand(e)
	}
	return cmd
}

// PrintUsage writes the usage line, subcommands, and the flags grouped by the
// module that declared them.
func (h *Hive) PrintUsage(w io.Writer, c *cobra.Command) {
	fmt.Fprintf(w, "Usage:\n  %s [flags]\n", c.CommandPath())
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "  %s [command]\n\nCommands:\n", c.CommandPath())
		for _, sc := range c.Commands() {
			if sc.IsAvailableCommand() {
				fmt.Fprintf(w, "  %-12s %s\n", sc.Name(), sc.Short)
			}
		}
	}
	ids, groups := flagsByModule(c.Flags())
	titles := map[string]string{"hive": "process, configuration and logging"}
	collectTitles(h.Info(), titles)
	for _, id := range ids {
		title := titles[id]
		if title != "" {
			title = " (" + title + ")"
		}
		fmt.Fprintf(w, "\nFlags of %s%s:\n%s", id, title, strings.TrimRight(groups[id].FlagUsages(), "\n")+"\n")
	}
}

func collectTitles(i Info, into map[string]string) {
	if i.Kind == "module" {
		into[i.ID] = i.Title
	}
	for _, c := range i.Children {
		collectTitles(c, into)
	}
}
