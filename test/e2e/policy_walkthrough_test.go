package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/client"
)

// TestGettingStartedDenyIngress is the getting-started walkthrough: a
// client reaches the server through its Service and observe shows the
// flows FORWARDED; a NetworkPolicy selecting the server with no ingress
// rules makes the client time out, and `hivenet observe --verdict DROPPED`
// shows "Policy denied" drops. Deleting the policy lets it through again.
func TestGettingStartedDenyIngress(t *testing.T) {
	c := upCluster(t, 1)
	ctx := context.Background()
	node := c.Nodes[0]
	for _, name := range []string{"server", "client"} {
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, echoPod(name, node.Name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := c.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "server"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "server"},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80), Protocol: corev1.ProtocolTCP}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitRunning(t, c, "server")
	waitRunning(t, c, "client")
	url := "http://" + svc.Spec.ClusterIP + "/"
	if out := eventuallyCurl(t, c, "client", url); !strings.Contains(out, "hostname=server") {
		t.Fatalf("client -> server via the Service answered %q", out)
	}
	hivenet := func(args ...string) string {
		out, err := exec.Command(filepath.Join(buildBinaries(t), "hivenet"), append([]string{"-s", node.Socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("hivenet %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// Flow events reach the agent's buffer through a ring buffer the agent
	// polls, so the first query may come before the exchange's flows.
	var flows string
	for deadline := time.Now().Add(10 * time.Second); ; {
		if flows = hivenet("observe", "--last", "200"); strings.Contains(flows, "FORWARDED") || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(flows, "FORWARDED") {
		t.Errorf("observe shows no FORWARDED flow:\n%s", flows)
	}

	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-ingress"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
	if _, err := c.Client.NetworkingV1().NetworkPolicies("default").Create(ctx, np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := curl(c, "client", url)
		if err != nil {
			break // curl --max-time 3: the connection timed out
		}
		if time.Now().After(deadline) {
			t.Fatalf("client still reaches the server 20s after deny-ingress: %q", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out := hivenet("observe", "--verdict", "DROPPED", "--last", "50")
	if !strings.Contains(out, "Policy denied DROPPED") || !strings.Contains(out, "TCP Flags: SYN") {
		t.Errorf("observe --verdict DROPPED:\n%s", out)
	}

	if err := c.Client.NetworkingV1().NetworkPolicies("default").Delete(ctx, np.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if out := eventuallyCurl(t, c, "client", url); !strings.Contains(out, "hostname=server") {
		t.Errorf("after deleting the policy the client got %q", out)
	}
}

// TestEnablePolicyAlways: with enable-policy=always, an endpoint no policy
// selects is still in default deny; a CiliumNetworkPolicy then allows
// exactly what it names.
func TestEnablePolicyAlways(t *testing.T) {
	c := upCluster(t, 1, "--enable-policy=always")
	ctx := context.Background()
	node := c.Nodes[0]
	for _, name := range []string{"server", "client"} {
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, echoPod(name, node.Name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	server := waitRunning(t, c, "server")
	waitRunning(t, c, "client")
	url := "http://" + server.Status.PodIP + "/"
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := curl(c, "client", url); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("client reaches the server although enable-policy=always and no policy allows it")
		}
		time.Sleep(200 * time.Millisecond)
	}
	cs, err := client.NewClientset(c.CP.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	cnp := &v2.CiliumNetworkPolicy{}
	if err := yaml.UnmarshalStrict([]byte(`
metadata: {name: client-to-server, namespace: default}
specs:
- endpointSelector: {matchLabels: {app: server}}
  ingress: [{fromEndpoints: [{matchLabels: {app: client}}], toPorts: [{ports: [{port: "80", protocol: TCP}]}]}]
- endpointSelector: {matchLabels: {app: client}}
  egress: [{toEndpoints: [{matchLabels: {app: server}}]}]`), cnp); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Cilium.V2.CiliumNetworkPolicies.Create(ctx, "default", cnp, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if out := eventuallyCurl(t, c, "client", url); !strings.Contains(out, "hostname=server") {
		t.Errorf("client -> server with the allowing policy answered %q", out)
	}
}
