package nodes_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/nodes"
)

// BenchmarkDesired measures the full derivation the nodes cell does on
// every change of its inputs, for 5000 Nodes each with a CiliumNode.
func BenchmarkDesired(b *testing.B) {
	const n = 5000
	ks := make([]*corev1.Node, n)
	cs := make([]*v2.CiliumNode, n)
	for i := range ks {
		name := fmt.Sprintf("node-%d", i)
		cidr := fmt.Sprintf("10.%d.%d.0/24", 100+i>>8, i&0xff)
		ks[i] = k8sNode(name, fmt.Sprintf("10.1.%d.%d", i>>8, i&0xff), cidr)
		cs[i] = ciliumNode(name, nil, cidr)
	}
	b.ReportAllocs()
	for b.Loop() {
		nodes.Desired(ks, cs, "node-0")
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "nodes/s")
}
