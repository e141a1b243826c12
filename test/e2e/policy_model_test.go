package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/k8s/client"
	"github.com/hivenet/hivenet/test/cluster"
)

// netpolModel is the upstream NetworkPolicy test model in the box:
// namespaces x, y, z with pods a, b, c each (spread over the nodes),
// serving TCP 80 and 81 under the port names serve-80-tcp and
// serve-81-tcp, probed from every pod to every pod.
type netpolModel struct {
	t   *testing.T
	c   *cluster.Cluster
	ips map[string]string // "x/a" -> pod IP
}

var (
	modelNS   = []string{"x", "y", "z"}
	modelPods = []string{"a", "b", "c"}
)

func modelPodNames() []string {
	var out []string
	for _, ns := range modelNS {
		for _, p := range modelPods {
			out = append(out, ns+"/"+p)
		}
	}
	return out
}

func newNetpolModel(t *testing.T, c *cluster.Cluster) *netpolModel {
	ctx := context.Background()
	m := &netpolModel{t: t, c: c, ips: map[string]string{}}
	i := 0
	for _, ns := range modelNS {
		if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"ns": ns}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, p := range modelPods {
			node := c.Nodes[i%len(c.Nodes)].Name
			i++
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: p, Namespace: ns, Labels: map[string]string{"pod": p}},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"kubernetes.io/hostname": node},
					Containers: []corev1.Container{{Name: "serve", Image: "agnhost", Ports: []corev1.ContainerPort{
						{Name: "serve-80-tcp", ContainerPort: 80, Protocol: corev1.ProtocolTCP},
						{Name: "serve-81-tcp", ContainerPort: 81, Protocol: corev1.ProtocolTCP},
					}}},
				},
			}
			if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(3 * time.Minute)
	for _, name := range modelPodNames() {
		ns, p, _ := strings.Cut(name, "/")
		for {
			pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, p, metav1.GetOptions{})
			if err == nil && pod.Status.PodIP != "" && pod.Status.Phase == corev1.PodRunning {
				m.ips[name] = pod.Status.PodIP
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod %s not running: %v", name, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return m
}

// probe connects from src to dst's port over TCP.
func (m *netpolModel) probe(src, dst string, port int) bool {
	ns, p, _ := strings.Cut(src, "/")
	netns, err := cluster.PodNetns(m.c.Dir(), ns, p)
	if err != nil {
		return false
	}
	err = exec.Command("ip", "netns", "exec", netns, "curl", "-s", "-o", "/dev/null", "--max-time", "1",
		fmt.Sprintf("http://%s:%d/", m.ips[dst], port)).Run()
	return err == nil
}

// expect probes every pair until the result equals the truth table (the
// policy takes a moment to reach the maps) or 15s pass, then reports the
// table of the last round. A pod always reaches itself (loopback never
// leaves the pod; upstream's model allows it too).
func (m *netpolModel) expect(name string, port int, table func(src, dst string) bool) {
	m.t.Helper()
	want := func(s, d string) bool { return s == d || table(s, d) }
	pods := modelPodNames()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := map[[2]string]bool{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		sem := make(chan struct{}, 12)
		for _, s := range pods {
			for _, d := range pods {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem <- struct{}{}
					ok := m.probe(s, d, port)
					<-sem
					mu.Lock()
					got[[2]string{s, d}] = ok
					mu.Unlock()
				}()
			}
		}
		wg.Wait()
		wrong := 0
		var b strings.Builder
		fmt.Fprintf(&b, "%s, TCP/%d (. reachable, x not, X differs from the truth table)\n      ", name, port)
		for _, d := range pods {
			fmt.Fprintf(&b, "%-5s", d)
		}
		b.WriteByte('\n')
		for _, s := range pods {
			fmt.Fprintf(&b, "%-5s ", s)
			for _, d := range pods {
				c := "."
				if !got[[2]string{s, d}] {
					c = "x"
				}
				if got[[2]string{s, d}] != want(s, d) {
					c, wrong = "X", wrong+1
				}
				fmt.Fprintf(&b, "%-5s", c)
			}
			b.WriteByte('\n')
		}
		if wrong == 0 {
			return
		}
		if time.Now().After(deadline) {
			m.t.Errorf("%d probes differ:\n%s", wrong, b.String())
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (m *netpolModel) apply(manifest string) *networkingv1.NetworkPolicy {
	m.t.Helper()
	np := &networkingv1.NetworkPolicy{}
	if err := yaml.UnmarshalStrict([]byte(manifest), np); err != nil {
		m.t.Fatal(err)
	}
	if _, err := m.c.Client.NetworkingV1().NetworkPolicies(np.Namespace).Create(context.Background(), np, metav1.CreateOptions{}); err != nil {
		m.t.Fatal(err)
	}
	return np
}

func (m *netpolModel) remove(nps ...*networkingv1.NetworkPolicy) {
	m.t.Helper()
	for _, np := range nps {
		if err := m.c.Client.NetworkingV1().NetworkPolicies(np.Namespace).Delete(context.Background(), np.Name, metav1.DeleteOptions{}); err != nil {
			m.t.Fatal(err)
		}
	}
}

func (m *netpolModel) applyCilium(manifest string) func() {
	m.t.Helper()
	var kind struct{ Kind string }
	if err := yaml.Unmarshal([]byte(manifest), &kind); err != nil {
		m.t.Fatal(err)
	}
	cs, err := client.NewClientset(m.c.CP.RESTConfig())
	if err != nil {
		m.t.Fatal(err)
	}
	ctx := context.Background()
	switch kind.Kind {
	case "CiliumNetworkPolicy":
		o := &v2.CiliumNetworkPolicy{}
		if err := yaml.UnmarshalStrict([]byte(manifest), o); err != nil {
			m.t.Fatal(err)
		}
		if _, err := cs.Cilium.V2.CiliumNetworkPolicies.Create(ctx, o.Namespace, o, metav1.CreateOptions{}); err != nil {
			m.t.Fatal(err)
		}
		return func() {
			_ = cs.Cilium.V2.CiliumNetworkPolicies.Delete(ctx, o.Namespace, o.Name, metav1.DeleteOptions{})
		}
	case "CiliumClusterwideNetworkPolicy":
		o := &v2.CiliumClusterwideNetworkPolicy{}
		if err := yaml.UnmarshalStrict([]byte(manifest), o); err != nil {
			m.t.Fatal(err)
		}
		if _, err := cs.Cilium.V2.CiliumClusterwideNetworkPolicies.Create(ctx, "", o, metav1.CreateOptions{}); err != nil {
			m.t.Fatal(err)
		}
		return func() {
			_ = cs.Cilium.V2.CiliumClusterwideNetworkPolicies.Delete(ctx, "", o.Name, metav1.DeleteOptions{})
		}
	}
	m.t.Fatalf("kind %q", kind.Kind)
	return nil
}

func nsPart(pod string) string { ns, _, _ := strings.Cut(pod, "/"); return ns }

// TestNetworkPolicyModel runs the upstream model's truth tables with real
// TCP connections between pods on two nodes.
func TestNetworkPolicyModel(t *testing.T) {
	c := upCluster(t, 2)
	m := newNetpolModel(t, c)
	all := func(string, string) bool { return true }
	m.expect("no policy", 80, all)

	deny := m.apply(`
metadata: {name: deny-ingress, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress]}`)
	m.expect("default deny ingress in x (other namespaces untouched)", 80, func(s, d string) bool { return nsPart(d) != "x" })
	m.remove(deny)

	denyEg := m.apply(`
metadata: {name: deny-egress, namespace: x}
spec: {podSelector: {}, policyTypes: [Egress]}`)
	m.expect("default deny egress in x", 81, func(s, d string) bool { return nsPart(s) != "x" })
	m.remove(denyEg)

	and := m.apply(`
metadata: {name: and, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: "y"}}, podSelector: {matchLabels: {pod: b}}}]`)
	m.expect("pod and namespace selector in one peer", 80, func(s, d string) bool { return d != "x/a" || s == "y/b" })
	m.remove(and)

	or := m.apply(`
metadata: {name: or, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: "y"}}}, {podSelector: {matchLabels: {pod: b}}}]`)
	m.expect("allow by namespace or pod (two peers)", 80, func(s, d string) bool { return d != "x/a" || nsPart(s) == "y" || s == "x/b" })
	m.remove(or)

	named := m.apply(`
metadata: {name: named-port, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress: [{ports: [{port: serve-81-tcp}]}]`)
	m.expect("named port: 81 allowed", 81, all)
	m.expect("named port: 80 denied", 80, func(s, d string) bool { return d != "x/a" })
	m.remove(named)

	rng := m.apply(`
metadata: {name: endport, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{ports: [{port: 81, endPort: 90, protocol: TCP}]}]`)
	m.expect("endPort: 81 in range", 81, all)
	m.expect("endPort: 80 outside", 80, func(s, d string) bool { return nsPart(s) != "x" })
	m.remove(rng)
	m.expect("all policies deleted", 80, all)

	// CiliumNetworkPolicy cases on the same model.
	del := m.applyCilium(`
kind: CiliumNetworkPolicy
metadata: {name: l4, namespace: x}
spec:
  endpointSelector: {matchLabels: {pod: a}}
  ingress:
  - fromEndpoints: [{matchLabels: {pod: b}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]`)
	m.expect("CNP L3/L4 allow (namespaced peers)", 80, func(s, d string) bool { return d != "x/a" || s == "x/b" })
	m.expect("CNP L3/L4 allow: other port", 81, func(s, d string) bool { return d != "x/a" })
	del()

	del = m.applyCilium(`
kind: CiliumNetworkPolicy
metadata: {name: deny-wins, namespace: x}
spec:
  endpointSelector: {}
  ingress: [{fromEntities: [all]}]
  ingressDeny: [{fromEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": z}}]}]`)
	m.expect("CNP deny beats allow", 80, func(s, d string) bool { return nsPart(d) != "x" || nsPart(s) != "z" })
	del()

	del = m.applyCilium(`
kind: CiliumClusterwideNetworkPolicy
metadata: {name: only-from-a}
spec:
  endpointSelector: {matchLabels: {pod: b}}
  ingress: [{fromEndpoints: [{matchLabels: {pod: a}}]}]`)
	m.expect("CCNP applies in every namespace", 80, func(s, d string) bool { return modelPodOf(d) != "b" || modelPodOf(s) == "a" })
	del()

	del = m.applyCilium(`
kind: CiliumNetworkPolicy
metadata: {name: egress-cluster-only, namespace: "y"}
spec:
  endpointSelector: {}
  egress: [{toEntities: [world]}]`)
	m.expect("CNP egress to world only: pods unreachable from y", 81, func(s, d string) bool { return nsPart(s) != "y" })
	del()
	m.expect("all Cilium policies deleted", 80, all)
}

func modelPodOf(pod string) string { _, p, _ := strings.Cut(pod, "/"); return p }
