package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hivenet/hivenet/test/cluster"
)

// outsideCurl runs curl in the outside client's namespace.
func outsideCurl(c *cluster.Cluster, url string) (string, error) {
	out, err := exec.Command("ip", "netns", "exec", c.ClientNetns, "curl", "-s", "--max-time", "3", url).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// hostnames curls url from where (a pod name, or "" for the outside
// client) until every wanted hostname answered or the deadline passes, and
// returns the answers by hostname.
func hostnames(t *testing.T, c *cluster.Cluster, from, url string, want ...string) map[string]string {
	t.Helper()
	got := map[string]string{}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var out string
		var err error
		if from == "" {
			out, err = outsideCurl(c, url)
		} else {
			out, err = curl(c, from, url)
		}
		if err == nil {
			for _, f := range strings.Fields(out) {
				if h, ok := strings.CutPrefix(f, "hostname="); ok {
					got[h] = out
				}
			}
		}
		all := true
		for _, w := range want {
			if _, ok := got[w]; !ok {
				all = false
			}
		}
		if all {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s from %q: answered by %v, want all of %v", url, from, keys(got), want)
	return nil
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func webPod(name, node string) *corev1.Pod {
	p := echoPod(name, node)
	p.Labels["app"] = "web"
	return p
}

// TestServicesAcrossNodes: with no kube-proxy anywhere, a ClusterIP
// Service whose pods are on both nodes is reached from a pod by address and
// by name, every backend serving and seeing the client's own address; a
// NodePort Service with externalTrafficPolicy: Local answers from the
// outside client on every node, each node with its own backend, the
// client's address kept, and its health-check node port says 200.
func TestServicesAcrossNodes(t *testing.T) {
	c := upCluster(t, 2)
	ctx := context.Background()
	n1, n2 := c.Nodes[0], c.Nodes[1]
	for _, p := range []*corev1.Pod{webPod("w1", n1.Name), webPod("w2", n2.Name), echoPod("client", n1.Name)} {
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitRunning(t, c, "w1")
	waitRunning(t, c, "w2")
	client := waitRunning(t, c, "client")

	svc, err := c.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("ClusterIP", func(t *testing.T) {
		got := hostnames(t, c, "client", "http://"+svc.Spec.ClusterIP+"/", "w1", "w2")
		for h, out := range got {
			if !strings.Contains(out, "client="+client.Status.PodIP+":") {
				t.Errorf("%s saw %q, want the client pod's own address %s", h, out, client.Status.PodIP)
			}
		}
	})

	t.Run("ByName", func(t *testing.T) {
		hostnames(t, c, "client", "http://web/", "w1", "w2")
	})

	// externalTrafficPolicy: Cluster: every node answers with every
	// backend, a remote one reached through the node's address.
	t.Run("NodePortClusterOnEveryNode", func(t *testing.T) {
		np, err := c.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web-cluster", Namespace: "default"},
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeNodePort,
				Selector: map[string]string{"app": "web"},
				Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []*cluster.Node{n1, n2} {
			hostnames(t, c, "", fmt.Sprintf("http://%s:%d/", n.IP, np.Spec.Ports[0].NodePort), "w1", "w2")
		}
	})

	t.Run("NodePortLocalOnEveryNode", func(t *testing.T) {
		np, err := c.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web-np", Namespace: "default"},
			Spec: corev1.ServiceSpec{
				Type:                  corev1.ServiceTypeLoadBalancer,
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
				Selector:              map[string]string{"app": "web"},
				Ports:                 []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		port := np.Spec.Ports[0].NodePort
		for _, nb := range []struct {
			node *cluster.Node
			pod  string
		}{{n1, "w1"}, {n2, "w2"}} {
			url := fmt.Sprintf("http://%s:%d/", nb.node.IP, port)
			out := hostnames(t, c, "", url, nb.pod)[nb.pod]
			if !strings.Contains(out, "client="+c.ClientIP.String()+":") {
				t.Errorf("%s answered %q, want the outside client's own address %s", url, out, c.ClientIP)
			}
			for range 5 {
				if out, err := outsideCurl(c, url); err != nil || !strings.Contains(out, "hostname="+nb.pod) {
					t.Errorf("%s: %q, %v; want only the node's local backend %s", url, out, err, nb.pod)
				}
			}
			hc := fmt.Sprintf("http://%s:%d/", nb.node.IP, np.Spec.HealthCheckNodePort)
			if out, err := outsideCurl(c, hc); err != nil || !strings.Contains(out, `"localEndpoints":1`) {
				t.Errorf("health-check node port %s: %q, %v", hc, out, err)
			}
		}
	})
}
