package routing_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/hivenet/hivenet/cells/nodes"
	"github.com/hivenet/hivenet/cells/routing"
)

// BenchmarkDesired measures the full recomputation the routing cell does on
// every change of the nodes table, for a cluster of 5000 nodes.
func BenchmarkDesired(b *testing.B) {
	for _, mode := range []string{routing.ModeNative, routing.ModeTunnel} {
		b.Run(mode, func(b *testing.B) {
			const n = 5000
			all := make([]*nodes.Node, n)
			for i := range all {
				all[i] = mkNode(fmt.Sprintf("node-%d", i), i == 0,
					netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String(),
					fmt.Sprintf("10.%d.%d.0/24", 100+i>>8, i&0xff))
			}
			b.ReportAllocs()
			for b.Loop() {
				routing.Desired(mode, all)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
		})
	}
}
