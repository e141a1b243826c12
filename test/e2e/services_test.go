package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

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
	p.Labels["pod"] = name
	return p
}

func service(name string, selector map[string]string, mutate ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Selector: selector,
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(80)}},
		},
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}

// udpEcho sends msg from the pod's namespace to dst and returns the echo.
func udpEcho(c *cluster.Cluster, pod string, dst netip.AddrPort, msg string) (string, error) {
	ns, err := cluster.PodNetns(c.Dir(), "default", pod)
	if err != nil {
		return "", err
	}
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.GetFromName(ns)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			ch <- result{err: err}
			return
		}
		conn, err := net.Dial("udp4", dst.String())
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(3 * time.Second))
		conn.Write([]byte(msg))
		buf := make([]byte, 1500)
		n, err := conn.Read(buf)
		ch <- result{string(buf[:n]), err}
	}()
	r := <-ch
	return r.s, r.err
}

// TestServicesAcrossNodes: with no kube-proxy anywhere, kube-proxy's
// semantics with real connections from pods and from the outside client: a
// ClusterIP Service whose pods are on both nodes is reached by address and
// by name, every backend serving and seeing the client's own address;
// NodePort answers on every node with every backend (Cluster) or with the
// node's own, the client's address kept and the health-check node port
// saying 200 (Local); a service without endpoints refuses at once;
// ClientIP affinity; hairpin; internalTrafficPolicy: Local; LoadBalancer
// and external IPs from outside; UDP.
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

	create := func(t *testing.T, svc *corev1.Service) *corev1.Service {
		t.Helper()
		out, err := c.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	t.Run("NoEndpointsRejected", func(t *testing.T) {
		svc := create(t, service("nothing", map[string]string{"app": "nothing"}))
		url := "http://" + svc.Spec.ClusterIP + "/"
		// Wait for the frontend: before it exists the address is unknown
		// and curl times out instead.
		deadline := time.Now().Add(30 * time.Second)
		for {
			start := time.Now()
			_, err := curl(c, "client", url)
			var exit *exec.ExitError
			if errors.As(err, &exit) && exit.ExitCode() == 7 && time.Since(start) < 2*time.Second {
				return // connection refused, at once
			}
			if time.Now().After(deadline) {
				t.Fatalf("curl %s to a service without endpoints: %v after %s, want connection refused at once", url, err, time.Since(start))
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("SessionAffinity", func(t *testing.T) {
		svc := create(t, service("sticky", map[string]string{"app": "web"}, func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		}))
		url := "http://" + svc.Spec.ClusterIP + "/"
		first := eventuallyCurl(t, c, "client", url)
		host := strings.Fields(first)[0]
		for range 10 {
			if out, err := curl(c, "client", url); err != nil || !strings.HasPrefix(out, host+" ") {
				t.Fatalf("affinity: %q, %v; the first answer came from %s", out, err, host)
			}
		}
	})

	t.Run("Hairpin", func(t *testing.T) {
		svc := create(t, service("only-w1", map[string]string{"pod": "w1"}))
		out := eventuallyCurl(t, c, "w1", "http://"+svc.Spec.ClusterIP+"/")
		if !strings.Contains(out, "hostname=w1") {
			t.Fatalf("w1 through its own service: %q", out)
		}
	})

	t.Run("InternalTrafficPolicyLocal", func(t *testing.T) {
		svc := create(t, service("web-itp", map[string]string{"app": "web"}, func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptrTo(corev1.ServiceInternalTrafficPolicyLocal)
		}))
		url := "http://" + svc.Spec.ClusterIP + "/"
		hostnames(t, c, "client", url, "w1")
		for range 10 {
			if out, err := curl(c, "client", url); err != nil || !strings.Contains(out, "hostname=w1") {
				t.Fatalf("internalTrafficPolicy Local from %s: %q, %v; want only w1, the client's node's backend", n1.Name, out, err)
			}
		}
	})

	t.Run("LoadBalancerIPAndExternalIPFromOutside", func(t *testing.T) {
		lbIP, extIP := "198.51.100.77", "192.0.2.77"
		svc := create(t, service("web-lb", map[string]string{"app": "web"}, func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalIPs = []string{extIP}
		}))
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: lbIP}}
		if _, err := c.Client.CoreV1().Services("default").UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The outside network routes both addresses to node 1, as an L2
		// announcement or a router would.
		for _, ip := range []string{lbIP, extIP} {
			if out, err := exec.Command("ip", "-n", c.ClientNetns, "route", "replace", ip+"/32", "via", n1.IP.String()).CombinedOutput(); err != nil {
				t.Fatalf("route %s: %v %s", ip, err, out)
			}
			hostnames(t, c, "", "http://"+ip+"/", "w1", "w2")
		}
	})

	t.Run("UDP", func(t *testing.T) {
		u := echoPod("u1", n2.Name)
		u.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 5353, Protocol: corev1.ProtocolUDP}}
		if _, err := c.Client.CoreV1().Pods("default").Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitRunning(t, c, "u1")
		svc := create(t, service("dns", map[string]string{"app": "u1"}, func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(5353)}}
		}))
		dst := netip.AddrPortFrom(netip.MustParseAddr(svc.Spec.ClusterIP), 53)
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := udpEcho(c, "client", dst, "query")
			if err == nil && out == "query" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("UDP through %s: %q, %v", dst, out, err)
			}
			time.Sleep(200 * time.Millisecond)
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

func ptrTo[T any](v T) *T { return &v }
