package nodes_test

import (
	"fmt"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/nodes"
)

// A node as the kubelet and the controller-manager describe it, and the
// CiliumNode its agent published: the row joins them.
func ExampleDerive() {
	n := k8sNode("worker-1", "192.168.1.11", "10.244.1.0/24")
	cn := ciliumNode("worker-1", []v2.NodeAddress{{Type: v2.NodeCiliumIntIP, IP: "10.244.1.1"}}, "10.244.1.0/24")
	cn.Annotations = map[string]string{v2.WireguardPubKeyAnnotation: "bm9kZS1rZXk="}
	row := nodes.Derive(n, cn, "worker-2")
	fmt.Println(row.TableRow())
	// Output: [worker-1  192.168.1.11 10.244.1.0/24 10.244.1.1 bm9kZS1rZXk=]
}
