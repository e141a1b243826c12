package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/client"
)

// TestCIDRExceptOutsideClient: a client outside the cluster (a namespace
// on the nodes' segment, routed to the pod CIDR through the node) is
// allowed by fromCIDRSet, then refused once its address is in except.
func TestCIDRExceptOutsideClient(t *testing.T) {
	c := upCluster(t, 1)
	ctx := context.Background()
	node := c.Nodes[0]
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, echoPod("server", node.Name), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	server := waitRunning(t, c, "server")
	if out, err := exec.Command("ip", "netns", "exec", c.ClientNetns, "ip", "route", "replace",
		node.PodCIDR.String(), "via", node.IP.String()).CombinedOutput(); err != nil {
		t.Fatalf("route to the pod CIDR in the outside client: %v: %s", err, out)
	}
	fromOutside := func() error {
		out, err := exec.Command("ip", "netns", "exec", c.ClientNetns, "curl", "-s", "--max-time", "2",
			"http://"+server.Status.PodIP+"/").CombinedOutput()
		if err == nil && !strings.Contains(string(out), "hostname=server") {
			err = fmt.Errorf("answer %q", out)
		}
		return err
	}
	eventually(t, 20*time.Second, "outside client reaches the pod without policy", fromOutside)

	cs, err := client.NewClientset(c.CP.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	subnet := c.ClientIP.String() + "/24"
	cnp := &v2.CiliumNetworkPolicy{}
	if err := yaml.UnmarshalStrict([]byte(fmt.Sprintf(`
metadata: {name: from-segment, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress: [{fromCIDRSet: [{cidr: %q, except: [%q]}]}]`, subnet, c.ClientIP.String()+"/32")), cnp); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Cilium.V2.CiliumNetworkPolicies.Create(ctx, "default", cnp, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "excepted outside client refused", func() error {
		if fromOutside() == nil {
			return fmt.Errorf("still reaches the pod")
		}
		return nil
	})

	// Without the except the same CIDR lets it in (the agents write the
	// status meanwhile: update the latest version).
	eventually(t, 10*time.Second, "update without except", func() error {
		cur, err := cs.Cilium.V2.CiliumNetworkPolicies.Get(ctx, "default", "from-segment", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Ingress[0].FromCIDRSet[0].ExceptCIDRs = nil
		_, err = cs.Cilium.V2.CiliumNetworkPolicies.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	eventually(t, 20*time.Second, "outside client allowed by the CIDR", fromOutside)
}
