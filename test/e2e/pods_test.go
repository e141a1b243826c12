package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/test/cluster"
)

func echoPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"kubernetes.io/hostname": node},
			Containers: []corev1.Container{{
				Name: "echo", Image: "ealen/echo-server", Ports: []corev1.ContainerPort{{ContainerPort: 80}},
			}},
		},
	}
}

// waitRunning waits until the pod is Ready and returns it.
func waitRunning(t *testing.T, c *cluster.Cluster, name string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		p, err := c.Client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err == nil && p.Status.PodIP != "" {
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					return p
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s not ready: %v %+v", name, err, p)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// curl runs curl inside a pod's network namespace, as `hivenet-box exec` does.
func curl(c *cluster.Cluster, pod, url string) (string, error) {
	netns, err := cluster.PodNetns(c.Dir(), "default", pod)
	if err != nil {
		return "", err
	}
	out, err := exec.Command("ip", "netns", "exec", netns, "curl", "-s", "--max-time", "3", url).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// eventuallyCurl retries for a while: a pod's server needs a moment after
// the pod reports Ready (the box's readiness is "process started").
func eventuallyCurl(t *testing.T, c *cluster.Cluster, pod, url string) string {
	t.Helper()
	var out string
	var err error
	for range 40 {
		if out, err = curl(c, pod, url); err == nil && out != "" {
			return out
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("curl %s from %s: %v: %s", url, pod, err, out)
	return ""
}

func agentEndpoints(t *testing.T, n *cluster.Node) []endpoints.Endpoint {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", n.Socket)
		},
	}}
	resp, err := hc.Get("http://agent/v1/db/endpoints?format=json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eps []endpoints.Endpoint
	if err := json.NewDecoder(resp.Body).Decode(&eps); err != nil {
		t.Fatal(err)
	}
	return eps
}

// TestPodsAcrossNodes: pods created through the API on two nodes get
// addresses from their node's pod CIDR and reach each other, on the same
// node and across nodes.
func TestPodsAcrossNodes(t *testing.T) {
	c := upCluster(t, 2)
	ctx := context.Background()
	n1, n2 := c.Nodes[0], c.Nodes[1]
	for _, p := range []*corev1.Pod{echoPod("a1", n1.Name), echoPod("a2", n1.Name), echoPod("b1", n2.Name)} {
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	a1, a2, b1 := waitRunning(t, c, "a1"), waitRunning(t, c, "a2"), waitRunning(t, c, "b1")
	for _, p := range []struct {
		pod  *corev1.Pod
		node *cluster.Node
	}{{a1, n1}, {a2, n1}, {b1, n2}} {
		if !p.node.PodCIDR.Contains(netip.MustParseAddr(p.pod.Status.PodIP)) {
			t.Errorf("pod %s has %s, outside node %s's pod CIDR %s", p.pod.Name, p.pod.Status.PodIP, p.node.Name, p.node.PodCIDR)
		}
	}
	// Same node.
	if out := eventuallyCurl(t, c, "a1", "http://"+a2.Status.PodIP+"/"); !strings.Contains(out, "hostname=a2") {
		t.Errorf("a1 -> a2 answered %q", out)
	}
	// Across nodes, both ways; the server sees the client's pod address.
	out := eventuallyCurl(t, c, "a1", "http://"+b1.Status.PodIP+"/")
	if !strings.Contains(out, "hostname=b1") || !strings.Contains(out, "client="+a1.Status.PodIP+":") {
		t.Errorf("a1 -> b1 answered %q, want b1 seeing a1's own address", out)
	}
	if out := eventuallyCurl(t, c, "b1", "http://"+a2.Status.PodIP+"/"); !strings.Contains(out, "hostname=a2") {
		t.Errorf("b1 -> a2 answered %q", out)
	}
}

// TestDeletedPodReleasesEndpointAndAddress: deleting a pod through the API
// removes its endpoint from its node's table, and the next pod on that node
// gets the freed address.
func TestDeletedPodReleasesEndpointAndAddress(t *testing.T) {
	c := upCluster(t, 1)
	ctx := context.Background()
	node := c.Nodes[0]
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, echoPod("first", node.Name), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := waitRunning(t, c, "first")
	if eps := agentEndpoints(t, node); len(eps) != 1 || eps[0].Pod != "first" || eps[0].IPv4.String() != first.Status.PodIP {
		t.Fatalf("endpoints = %+v, want first with %s", eps, first.Status.PodIP)
	}
	if err := c.Client.CoreV1().Pods("default").Delete(ctx, "first", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := c.Client.CoreV1().Pods("default").Get(ctx, "first", metav1.GetOptions{})
		if err != nil && len(agentEndpoints(t, node)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod or endpoint still there a minute after delete: %v, %+v", err, agentEndpoints(t, node))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, echoPod("second", node.Name), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if second := waitRunning(t, c, "second"); second.Status.PodIP != first.Status.PodIP {
		t.Errorf("second pod got %s, want the released %s", second.Status.PodIP, first.Status.PodIP)
	}
}
