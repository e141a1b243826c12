package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/cells/endpoints"
)

func init() { extraCommands = append(extraCommands, newEndpointCmd) }

func newEndpointCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "endpoint",
		Aliases: []string{"endpoints", "ep"},
		Short:   "Inspect the endpoints (pod interfaces) on this node",
		Args:    cobra.NoArgs,
	}
	var output string
	list := &cobra.Command{
		Use:   "list",
		Short: "List endpoints, with the columns of cilium-dbg endpoint list",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var eps []endpoints.Endpoint
			if err := agentGetJSON(cmd.Context(), "/v1/db/endpoints?format=json", &eps); err != nil {
				return err
			}
			sort.Slice(eps, func(i, j int) bool { return eps[i].ID < eps[j].ID })
			switch output {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(eps)
			case "", "table":
				printEndpoints(cmd.OutOrStdout(), eps)
				return nil
			}
			return fmt.Errorf("invalid value %q for -o: want table or json", output)
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "table", "Output format: table or json")
	cmd.AddCommand(list)
	return cmd
}

func printEndpoints(w io.Writer, eps []endpoints.Endpoint) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "ENDPOINT\tPOLICY (ingress)\tPOLICY (egress)\tIDENTITY\tLABELS (source:key[=value])\tIPv6\tIPv4\tSTATUS")
	fmt.Fprintln(tw, "\tENFORCEMENT\tENFORCEMENT\t\t\t\t\t")
	for _, e := range eps {
		labels := endpointLabels(&e)
		first := ""
		if len(labels) > 0 {
			first = labels[0]
		}
		// Policy enforcement arrives with the policy cell; until then
		// nothing is enforced, which is what Cilium prints as Disabled.
		fmt.Fprintf(tw, "%d\tDisabled\tDisabled\t%d\t%s\t\t%s\t%s\n", e.ID, e.Identity, first, e.IPv4, e.State)
		for _, l := range labels[min(1, len(labels)):] {
			fmt.Fprintf(tw, "\t\t\t\t%s\t\t\t\n", l)
		}
	}
	tw.Flush()
}

// endpointLabels renders labels as Cilium does (k8s:key=value), including the
// pod's namespace, which Cilium always shows.
func endpointLabels(e *endpoints.Endpoint) []string {
	var out []string
	for k, v := range e.Labels {
		out = append(out, "k8s:"+k+"="+v)
	}
	if _, ok := e.Labels["io.kubernetes.pod.namespace"]; !ok && e.Namespace != "" {
		out = append(out, "k8s:io.kubernetes.pod.namespace="+e.Namespace)
	}
	sort.Strings(out)
	if len(out) == 0 && e.Pod == "" {
		out = append(out, "container:"+strings.TrimSpace(e.ContainerID))
	}
	return out
}
