package routing_test

import (
	"context"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/masquerade"
	"github.com/hivenet/hivenet/cells/nodes"
	"github.com/hivenet/hivenet/cells/routing"
	"github.com/hivenet/hivenet/statedb"
)

// Native routing with masquerading on but no native-routing CIDR would
// masquerade pod-to-pod traffic between nodes; like Cilium, the agent
// refuses to start.
func TestNativeRoutingNeedsNativeRoutingCIDRWhenMasquerading(t *testing.T) {
	h := cell.New(statedb.Cell, routing.Cell,
		cell.Provide(
			func() masquerade.Config { return masquerade.Config{EnableIPv4Masquerade: true} },
			func(db *statedb.DB) (statedb.Table[*nodes.Node], error) {
				tbl, err := nodes.NewTable()
				if err != nil {
					return nil, err
				}
				return tbl.ToTable(), db.RegisterTable(tbl)
			},
		))
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	h.RegisterFlags(fs)
	if err := fs.Parse([]string{"--routing-mode=native"}); err != nil {
		t.Fatal(err)
	}
	err := h.Start(context.Background())
	if err == nil {
		h.Stop(context.Background())
		t.Fatal("started without --ipv4-native-routing-cidr")
	}
	if !strings.Contains(err.Error(), "--ipv4-native-routing-cidr") {
		t.Fatalf("error %v does not name --ipv4-native-routing-cidr", err)
	}
}
