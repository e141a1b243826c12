package services

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// createService creates a selector-less Service (the test owns its
// EndpointSlices) and returns it as the API server allocated it.
func (n *e2eNode) createService(name string, mutate ...func(*corev1.Service)) *corev1.Service {
	n.t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{
			Type:  corev1.ServiceTypeClusterIP,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	for _, m := range mutate {
		m(svc)
	}
	out, err := n.k8s.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		n.t.Fatalf("create service %s: %v", name, err)
	}
	return out
}

// setEndpoints creates or replaces the EndpointSlice of service svc: every
// address ready, on this node, on port (protocol proto) named portName.
func (n *e2eNode) setEndpoints(svc, portName string, proto corev1.Protocol, port int32, ips ...netip.Addr) {
	n.t.Helper()
	nodes := make([]string, len(ips))
	for i := range nodes {
		nodes[i] = n.prefix
	}
	n.setEndpointsOn(svc, portName, proto, port, ips, nodes)
}

// setEndpointsOn is setEndpoints with each address's node.
func (n *e2eNode) setEndpointsOn(svc, portName string, proto corev1.Protocol, port int32, ips []netip.Addr, nodes []string) {
	n.t.Helper()
	n.writeEndpoints(svc, portName, proto, port, ips, nodes, nil)
}

// setEndpointsTerminating is setEndpoints with, next to the ready
// addresses, terminating ones that still serve: how Kubernetes shows pods
// being deleted during their grace period.
func (n *e2eNode) setEndpointsTerminating(svc, portName string, proto corev1.Protocol, port int32, ready, terminating []netip.Addr) {
	n.t.Helper()
	nodes := make([]string, len(ready))
	for i := range nodes {
		nodes[i] = n.prefix
	}
	n.writeEndpoints(svc, portName, proto, port, ready, nodes, terminating)
}

func (n *e2eNode) writeEndpoints(svc, portName string, proto corev1.Protocol, port int32, ips []netip.Addr, nodes []string, terminating []netip.Addr) {
	n.t.Helper()
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: svc + "-hvsv", Labels: map[string]string{
			discoveryv1.LabelServiceName: svc,
			discoveryv1.LabelManagedBy:   "hvsv-e2e",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr(portName), Port: ptr(port), Protocol: ptr(proto)}},
	}
	for i, ip := range ips {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{ip.String()},
			NodeName:   ptr(nodes[i]),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(true), Serving: ptr(true), Terminating: ptr(false)},
		})
	}
	for _, ip := range terminating {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{ip.String()},
			NodeName:   ptr(n.prefix),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(true), Terminating: ptr(true)},
		})
	}
	api := n.k8s.DiscoveryV1().EndpointSlices("default")
	old, err := api.Get(context.Background(), sl.Name, metav1.GetOptions{})
	if err == nil {
		sl.ResourceVersion = old.ResourceVersion
		_, err = api.Update(context.Background(), sl, metav1.UpdateOptions{})
	} else {
		_, err = api.Create(context.Background(), sl, metav1.CreateOptions{})
	}
	if err != nil {
		n.t.Fatalf("write endpoint slice of %s: %v", svc, err)
	}
}

// waitFrontend waits until the agent has frontend fe with want backends in
// the maps (status done).
func (n *e2eNode) waitFrontend(fe string, want int) {
	n.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var es []ServiceEntry
	for time.Now().Before(deadline) {
		es = nil
		if err := n.getJSON("/v1/services", &es); err == nil {
			for _, e := range es {
				if e.Frontend == fe && len(e.Backends) == want && e.Status == "done" {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.t.Fatalf("frontend %s with %d backends not in the maps within 20s; agent has %+v\nagent log:\n%s", fe, want, es, n.log())
}

// waitFrontendStates waits until the agent has frontend fe in the maps
// with active active backends and terminating terminating ones.
func (n *e2eNode) waitFrontendStates(fe string, active, terminating int) {
	n.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var es []ServiceEntry
	for time.Now().Before(deadline) {
		es = nil
		if err := n.getJSON("/v1/services", &es); err == nil {
			for _, e := range es {
				if e.Frontend != fe || e.Status != "done" {
					continue
				}
				var a, term int
				for _, b := range e.Backends {
					switch {
					case strings.HasSuffix(b, "(active)"):
						a++
					case strings.HasSuffix(b, "(terminating)"):
						term++
					}
				}
				if a == active && term == terminating {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.t.Fatalf("frontend %s with %d active and %d terminating backends not in the maps within 20s; agent has %+v", fe, active, terminating, es)
}

func clusterIP(svc *corev1.Service, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr(svc.Spec.ClusterIP), port)
}

// TestE2EClusterIP runs a real agent against a real API server and sends
// real connections from pods wired by hivenet-cni through ClusterIP
// Services it created with client-go.
func TestE2EClusterIP(t *testing.T) {
	n := newE2ENode(t)
	client := n.addPod("client")
	var backends []*e2ePod
	for i := range 10 {
		p := n.addPod(fmt.Sprintf("web%d", i))
		serveName(t, p.netns, netip.AddrPortFrom(p.ip, 8080), p.name)
		backends = append(backends, p)
	}
	ips := func(ps []*e2ePod) []netip.Addr {
		var out []netip.Addr
		for _, p := range ps {
			out = append(out, p.ip)
		}
		return out
	}

	web := n.createService("web")
	vip := clusterIP(web, 80)
	n.setEndpoints("web", "http", corev1.ProtocolTCP, 8080, ips(backends[:2])...)
	n.waitFrontend(vip.String()+"/TCP", 2)

	t.Run("SeveralBackendsAllUsed", func(t *testing.T) {
		seen := map[string]bool{}
		for i := 0; i < 50 && len(seen) < 2; i++ {
			name, peer, remote, err := askName(t, client.netns, vip)
			if err != nil {
				t.Fatalf("connection %d to %s: %v\nagent log:\n%s", i, vip, err, n.log())
			}
			if remote != vip.String() || !strings.HasPrefix(peer, client.ip.String()+":") {
				t.Fatalf("client saw %s (want %s), backend saw %s (want %s)", remote, vip, peer, client.ip)
			}
			seen[name] = true
		}
		if len(seen) != 2 {
			t.Fatalf("50 connections reached only %v", seen)
		}
	})

	t.Run("CLI", func(t *testing.T) {
		out := n.cli("service", "list")
		for _, want := range []string{"ID", "Frontend", "Service Type", "Backend", vip.String() + "/TCP", "ClusterIP",
			"1 => " + backends[0].ip.String() + ":8080/TCP (active)", "2 => " + backends[1].ip.String() + ":8080/TCP (active)"} {
			if !strings.Contains(out, want) {
				t.Errorf("hivenet service list lacks %q:\n%s", want, out)
			}
		}
		out = n.cli("bpf", "lb", "list")
		if !strings.Contains(out, vip.String()+"/TCP") || !strings.Contains(out, backends[1].ip.String()+":8080/TCP") {
			t.Errorf("hivenet bpf lb list:\n%s", out)
		}
		out = n.cli("db", "show", "frontends")
		if !strings.Contains(out, vip.String()+"/TCP") || !strings.Contains(out, "done") {
			t.Errorf("hivenet db show frontends:\n%s", out)
		}
		out = n.cli("db", "show", "backends")
		if !strings.Contains(out, backends[0].ip.String()+":8080/TCP") || !strings.Contains(out, "default/web") {
			t.Errorf("hivenet db show backends:\n%s", out)
		}
	})

	t.Run("NoEndpointsRejected", func(t *testing.T) {
		empty := n.createService("empty")
		fe := clusterIP(empty, 80)
		n.waitFrontend(fe.String()+"/TCP", 0)
		start := time.Now()
		_, _, _, err := askName(t, client.netns, fe)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("connect to a service without endpoints: %v, want connection refused", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("refused after %s, want at once", d)
		}
	})

	t.Run("SessionAffinity", func(t *testing.T) {
		sticky := n.createService("sticky", func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		})
		n.setEndpoints("sticky", "http", corev1.ProtocolTCP, 8080, ips(backends[:3])...)
		fe := clusterIP(sticky, 80)
		n.waitFrontend(fe.String()+"/TCP", 3)
		first := ""
		for i := range 20 {
			name, _, _, err := askName(t, client.netns, fe)
			if err != nil {
				t.Fatal(err)
			}
			if first == "" {
				first = name
			} else if name != first {
				t.Fatalf("connection %d went to %s, the first to %s", i, name, first)
			}
		}
	})

	t.Run("Hairpin", func(t *testing.T) {
		self := n.createService("self")
		n.setEndpoints("self", "http", corev1.ProtocolTCP, 8080, backends[0].ip)
		fe := clusterIP(self, 80)
		n.waitFrontend(fe.String()+"/TCP", 1)
		name, _, remote, err := askName(t, backends[0].netns, fe)
		if err != nil || name != backends[0].name || remote != fe.String() {
			t.Fatalf("pod through its own service: %s, %s, %v", name, remote, err)
		}
	})

	t.Run("UDPAndSeveralPorts", func(t *testing.T) {
		dns := n.createService("dns", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(5353)},
				{Name: "http", Port: 8000, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)},
			}
		})
		serveUDPEcho(t, backends[2].netns, netip.AddrPortFrom(backends[2].ip, 5353))
		sl := discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "dns-hvsv", Labels: map[string]string{
				discoveryv1.LabelServiceName: "dns", discoveryv1.LabelManagedBy: "hvsv-e2e"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{
				{Name: ptr("dns"), Port: ptr[int32](5353), Protocol: ptr(corev1.ProtocolUDP)},
				{Name: ptr("http"), Port: ptr[int32](8080), Protocol: ptr(corev1.ProtocolTCP)},
			},
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{backends[2].ip.String()}, NodeName: ptr(n.prefix)}},
		}
		if _, err := n.k8s.DiscoveryV1().EndpointSlices("default").Create(context.Background(), &sl, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		n.waitFrontend(clusterIP(dns, 53).String()+"/UDP", 1)
		n.waitFrontend(clusterIP(dns, 8000).String()+"/TCP", 1)
		var c net.Conn
		inNetns(t, client.netns, func() (err error) { c, err = net.Dial("udp4", clusterIP(dns, 53).String()); return })
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("query"))
		buf := make([]byte, 64)
		k, err := c.Read(buf)
		if err != nil || string(buf[:k]) != "query" {
			t.Fatalf("UDP through the service: %q, %v", buf[:k], err)
		}
		if name, _, _, err := askName(t, client.netns, clusterIP(dns, 8000)); err != nil || name != backends[2].name {
			t.Fatalf("second port: %s, %v", name, err)
		}
	})

	// Backends scale 1 -> 10 -> 1 while a client loops short connections,
	// one at a time. Scaling up, and scaling down gracefully (the removed
	// pods first terminating, as Kubernetes shows pods in their grace
	// period), fail no connection. Removing backends outright may reset the
	// one connection the client has on a removed backend at that moment
	// (its next packet finds the backend gone and goes elsewhere), nothing
	// else.
	t.Run("ScaleUnderLoad", func(t *testing.T) {
		n.setEndpoints("web", "http", corev1.ProtocolTCP, 8080, backends[0].ip)
		n.waitFrontend(vip.String()+"/TCP", 1)
		type failure struct {
			at  time.Time
			err error
		}
		var (
			stop  atomic.Bool
			ok    atomic.Int64
			mu    sync.Mutex
			fails []failure
			seen  = map[string]bool{}
			done  = make(chan struct{})
		)
		go func() {
			defer close(done)
			for !stop.Load() {
				name, _, _, err := askName(t, client.netns, vip)
				mu.Lock()
				if err != nil {
					fails = append(fails, failure{time.Now(), err})
				} else {
					ok.Add(1)
					seen[name] = true
				}
				mu.Unlock()
			}
		}()
		defer func() { stop.Store(true); <-done }()
		waitCount := func(min int64) {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			for ok.Load() < min && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if ok.Load() < min {
				t.Fatalf("the client completed %d connections, waited for %d", ok.Load(), min)
			}
		}
		failedSince := func(from time.Time) []failure {
			mu.Lock()
			defer mu.Unlock()
			var out []failure
			for _, f := range fails {
				if !f.at.Before(from) {
					out = append(out, f)
				}
			}
			return out
		}
		fe := vip.String() + "/TCP"
		waitCount(20)

		phase := time.Now()
		n.setEndpoints("web", "http", corev1.ProtocolTCP, 8080, ips(backends)...)
		n.waitFrontend(fe, 10)
		waitCount(ok.Load() + 200)
		if f := failedSince(phase); len(f) > 0 {
			t.Fatalf("scaling up 1 -> 10 failed %d connections, first: %v", len(f), f[0].err)
		}
		mu.Lock()
		reached := len(seen)
		mu.Unlock()
		if reached < 8 {
			t.Errorf("at 10 backends, connections reached only %d of them", reached)
		}

		phase = time.Now()
		n.setEndpointsTerminating("web", "http", corev1.ProtocolTCP, 8080, []netip.Addr{backends[0].ip}, ips(backends[1:]))
		n.waitFrontendStates(fe, 1, 9)
		waitCount(ok.Load() + 50)
		n.setEndpoints("web", "http", corev1.ProtocolTCP, 8080, backends[0].ip)
		n.waitFrontend(fe, 1)
		waitCount(ok.Load() + 50)
		if f := failedSince(phase); len(f) > 0 {
			t.Fatalf("graceful scale-down 10 -> 1 failed %d connections, first: %v", len(f), f[0].err)
		}

		n.setEndpoints("web", "http", corev1.ProtocolTCP, 8080, ips(backends)...)
		n.waitFrontend(fe, 10)
		waitCount(ok.Load() + 50)
		phase = time.Now()
		n.setEndpoints("web", "http", corev1.ProtocolTCP, 8080, backends[0].ip)
		n.waitFrontend(fe, 1)
		waitCount(ok.Load() + 50)
		f := failedSince(phase)
		if len(f) > 1 || len(f) == 1 && !errors.Is(f[0].err, syscall.ECONNRESET) {
			t.Fatalf("removing 9 of 10 backends outright failed %d connections (at most the one in flight may be reset): %v", len(f), f)
		}
		t.Logf("%d connections, %d reset by the outright removal, backends reached: %d", ok.Load(), len(f), reached)
	})

	// Services keep working while the agent is down (maps and links are
	// pinned), and a restarted agent keeps every frontend's id.
	t.Run("AgentRestart", func(t *testing.T) {
		var before []ServiceEntry
		if err := n.getJSON("/v1/services", &before); err != nil {
			t.Fatal(err)
		}
		n.killAgent()
		for range 5 {
			if _, _, _, err := askName(t, client.netns, vip); err != nil {
				t.Fatalf("service while the agent is down: %v", err)
			}
		}
		n.startAgent()
		for _, e := range before {
			n.waitFrontend(e.Frontend, len(e.Backends))
		}
		var after []ServiceEntry
		if err := n.getJSON("/v1/services", &after); err != nil {
			t.Fatal(err)
		}
		ids := map[string]uint16{}
		for _, e := range after {
			ids[e.Frontend] = e.ID
		}
		for _, e := range before {
			if ids[e.Frontend] != e.ID {
				t.Errorf("frontend %s had id %d, %d after the restart", e.Frontend, e.ID, ids[e.Frontend])
			}
		}
		if _, _, _, err := askName(t, client.netns, vip); err != nil {
			t.Fatalf("service after the restart: %v", err)
		}
	})
}

// TestE2EFromOutside reaches Services from outside the node (the host's
// namespace, across the node's external device): NodePort on the node's
// address, a LoadBalancer ingress IP and an external IP routed to the
// node, externalTrafficPolicy: Local with its health-check node port, and
// internalTrafficPolicy: Local from a pod.
func TestE2EFromOutside(t *testing.T) {
	n := newE2ENode(t)
	web0, web1 := n.addPod("web0"), n.addPod("web1")
	client := n.addPod("client")
	serveName(t, web0.netns, netip.AddrPortFrom(web0.ip, 8080), "web0")
	serveName(t, web1.netns, netip.AddrPortFrom(web1.ip, 8080), "web1")
	o := n.hostIP.As4()[2]
	lbIP := netip.AddrFrom4([4]byte{198, 51, 100, o})
	extIP := netip.AddrFrom4([4]byte{192, 0, 2, o})
	for _, ip := range []netip.Addr{lbIP, extIP} {
		run(t, "ip", "route", "add", ip.String()+"/32", "via", n.nodeIP.String())
		t.Cleanup(func() { exec.Command("ip", "route", "del", ip.String()+"/32").Run() })
	}

	svc := n.createService("public", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.ExternalIPs = []string{extIP.String()}
	})
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: lbIP.String()}}
	if _, err := n.k8s.CoreV1().Services("default").UpdateStatus(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	n.setEndpoints("public", "http", corev1.ProtocolTCP, 8080, web0.ip, web1.ip)
	nodePort := uint16(svc.Spec.Ports[0].NodePort)
	n.waitFrontend(fmt.Sprintf("0.0.0.0:%d/TCP", nodePort), 2)
	n.waitFrontend(lbIP.String()+":80/TCP", 2)
	n.waitFrontend(extIP.String()+":80/TCP", 2)

	for _, fe := range []netip.AddrPort{
		netip.AddrPortFrom(n.nodeIP, nodePort),
		netip.AddrPortFrom(lbIP, 80),
		netip.AddrPortFrom(extIP, 80),
	} {
		seen := map[string]bool{}
		for i := 0; i < 40 && len(seen) < 2; i++ {
			name, peer, remote, err := askName(t, "", fe)
			if err != nil {
				t.Fatalf("outside -> %s: %v\nagent log:\n%s", fe, err, n.log())
			}
			if remote != fe.String() || !strings.HasPrefix(peer, n.hostIP.String()+":") {
				t.Fatalf("outside -> %s: client saw %s, backend saw %s (want the client's own %s)", fe, remote, peer, n.hostIP)
			}
			seen[name] = true
		}
		if len(seen) != 2 {
			t.Errorf("outside -> %s reached only %v", fe, seen)
		}
	}

	t.Run("ExternalTrafficPolicyLocal", func(t *testing.T) {
		local := n.createService("local", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		})
		hc := local.Spec.HealthCheckNodePort
		if hc == 0 {
			t.Fatal("the API server allocated no health-check node port")
		}
		np := uint16(local.Spec.Ports[0].NodePort)
		// web1 is "on another node": only web0 serves here.
		n.setEndpointsOn("local", "http", corev1.ProtocolTCP, 8080, []netip.Addr{web0.ip, web1.ip}, []string{n.prefix, "elsewhere"})
		n.waitFrontend(fmt.Sprintf("0.0.0.0:%d/TCP", np), 1)
		for range 10 {
			name, peer, _, err := askName(t, "", netip.AddrPortFrom(n.nodeIP, np))
			if err != nil || name != "web0" || !strings.HasPrefix(peer, n.hostIP.String()+":") {
				t.Fatalf("Local policy: %s (peer %s), %v; want web0 only, client address kept", name, peer, err)
			}
		}
		healthz := func() (int, string) {
			c := http.Client{Timeout: 3 * time.Second}
			resp, err := c.Get(fmt.Sprintf("http://%s:%d/", n.nodeIP, hc))
			if err != nil {
				return 0, err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		waitHC := func(code int, body string) {
			deadline := time.Now().Add(20 * time.Second)
			for {
				got, b := healthz()
				if got == code && strings.Contains(b, body) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("health-check node port %d: %d %s, want %d with %s", hc, got, b, code, body)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		waitHC(http.StatusOK, `"localEndpoints":1`)
		n.setEndpointsOn("local", "http", corev1.ProtocolTCP, 8080, []netip.Addr{web1.ip}, []string{"elsewhere"})
		waitHC(http.StatusServiceUnavailable, `"localEndpoints":0`)
	})

	t.Run("InternalTrafficPolicyLocal", func(t *testing.T) {
		itp := n.createService("itp", func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr(corev1.ServiceInternalTrafficPolicyLocal)
		})
		n.setEndpointsOn("itp", "http", corev1.ProtocolTCP, 8080, []netip.Addr{web0.ip, web1.ip}, []string{"elsewhere", n.prefix})
		fe := clusterIP(itp, 80)
		n.waitFrontend(fe.String()+"/TCP", 1)
		for range 10 {
			if name, _, _, err := askName(t, client.netns, fe); err != nil || name != "web1" {
				t.Fatalf("internalTrafficPolicy Local: %s, %v; want this node's web1 only", name, err)
			}
		}
	})
}
