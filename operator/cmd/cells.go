// Package cmd composes the hivenet operator: which cells it runs (Operator)
// and its command line (Command).
package cmd

import (
	"github.com/spf13/cobra"

	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/identity"
	"github.com/hivenet/hivenet/cells/k8s"
	"github.com/hivenet/hivenet/cells/k8s/crds"
	"github.com/hivenet/hivenet/statedb"
)

// DefaultAPIAddr is where the operator serves /healthz and /readyz, the port
// Cilium's operator uses for the same purpose.
const DefaultAPIAddr = ":9234"

// Operator is every cell of the operator.
var Operator = cell.Group(
	api.Cell("hivenet-operator", api.Config{Listen: DefaultAPIAddr}),
	statedb.Cell,
	k8s.ClientCell,
	crds.Cell,
	k8s.OperatorCell,
	identity.GCCell,
)

// Command is the operator's command line.
func Command() *cobra.Command {
	h := cell.New(Operator)
	cmd := h.Command("hivenet-operator", "hivenet operator: cluster-wide control plane (CRDs, LB IPAM, identity GC)")
	cmd.Version = cell.Version
	return cmd
}
