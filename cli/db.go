package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/statedb"
)

func init() { extraCommands = append(extraCommands, newDBCmd) }

// newDBCmd is `hivenet db`: the agent's state database, the tables that say
// what the agent wants in the kernel and whether it got there.
func newDBCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Inspect the agent's state database",
		Long: "Inspect the agent's state database: the tables feature cells write their desired\n" +
			"state into, with each object's reconciliation status.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newDBListCmd(), newDBShowCmd())
	return cmd
}

func newDBListCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tables with their object count, revision and initialisation",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("invalid value %q for -o: want table or json", output)
			}
			var tables []statedb.TableInfo
			if err := agentGetJSON(cmd.Context(), "/v1/db", &tables); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(tables)
			}
			printTables(out, tables)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "Output format: table or json")
	return cmd
}

func printTables(w io.Writer, tables []statedb.TableInfo) {
	tw := tabwriter.NewWriter(w, 2, 8, 3, ' ', 0)
	defer tw.Flush()
	fmt.Fprintln(tw, "NAME\tOBJECTS\tREVISION\tINITIALIZED\tGRAVEYARD\tINDEXES")
	for _, t := range tables {
		init := "yes"
		if !t.Initialized {
			init = "no (waiting for " + strings.Join(t.Pending, ", ") + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%s\n",
			t.Name, t.Objects, t.Revision, init, t.Graveyard, strings.Join(t.Indexes, ","))
	}
}

func newDBShowCmd() *cobra.Command {
	var output, key, indexName string
	cmd := &cobra.Command{
		Use:   "show <table>",
		Short: "Show a table's objects",
		Long: "Show a table's objects in primary key order, as columns (-o table) or as the\n" +
			"JSON the agent stores (-o json). `hivenet db list` names the tables and their\n" +
			"indexes; --key (with --index for another index than the primary) shows only the\n" +
			"objects with that key.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("invalid value %q for -o: want table or json", output)
			}
			if indexName != "" && !cmd.Flags().Changed("key") {
				return fmt.Errorf("--index %s needs --key", indexName)
			}
			q := url.Values{"format": {output}}
			if cmd.Flags().Changed("key") {
				q.Set("key", key)
				if indexName != "" {
					q.Set("index", indexName)
				}
			}
			path := "/v1/db/" + url.PathEscape(args[0]) + "?" + q.Encode()
			resp, err := agentGet(cmd.Context(), path)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			_, err = io.Copy(cmd.OutOrStdout(), resp.Body)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "Output format: table or json")
	cmd.Flags().StringVar(&key, "key", "", "Show only the objects with this key")
	cmd.Flags().StringVar(&indexName, "index", "", "Index --key is looked up in (default: the primary index)")
	return cmd
}
