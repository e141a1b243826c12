package services

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
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
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: svc + "-hvsv", Labels: map[string]string{
			discoveryv1.LabelServiceName: svc,
			discoveryv1.LabelManagedBy:   "hvsv-e2e",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr(portName), Port: ptr(port), Protocol: ptr(proto)}},
	}
	for _, ip := range ips {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{ip.String()},
			NodeName:   ptr(n.prefix),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(true), Serving: ptr(true), Terminating: ptr(false)},
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

	// Backends scale 1 -> 10 -> 1 while a client loops short connections:
	// none fails, as no backend is removed while a connection is on it
	// (each connection ends before the next starts).
	t.Run("ScaleUnderLoad", func(t *testing.T) {
		n.setEndpoints("web", "http", corev1.ProtocolTCP, 8080, backends[0].ip)
		n.waitFrontend(vip.String()+"/TCP", 1)
		var (
			stop     atomic.Bool
			ok, fail atomic.Int64
			mu       sync.Mutex
			errs     []string
			seen     = map[string]bool{}
			done     = make(chan struct{})
		)
		go func() {
			defer close(done)
			for !stop.Load() {
				name, _, _, err := askName(t, client.netns, vip)
				mu.Lock()
				if err != nil {
					fail.Add(1)
					if len(errs) < 5 {
						errs = append(errs, err.Error())
					}
				} else {
					ok.Add(1)
					seen[name] = true
				}
				mu.Unlock()
			}
		}()
		waitCount := func(min int64) {
			deadline := time.Now().Add(20 * time.Second)
			for ok.Load() < min && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
		}
		waitCount(20)
		n.setEndpoints("web", "http", corev1.ProtocolTCP, 8080, ips(backends)...)
		n.waitFrontend(vip.String()+"/TCP", 10)
		before := ok.Load()
		waitCount(before + 200)
		n.setEndpoints("web", "http", corev1.ProtocolTCP, 8080, backends[0].ip)
		n.waitFrontend(vip.String()+"/TCP", 1)
		waitCount(ok.Load() + 50)
		stop.Store(true)
		<-done
		mu.Lock()
		defer mu.Unlock()
		if fail.Load() > 0 {
			t.Fatalf("%d of %d connections failed while backends scaled: %v", fail.Load(), ok.Load()+fail.Load(), errs)
		}
		if len(seen) < 8 {
			t.Errorf("at 10 backends, connections reached only %d of them", len(seen))
		}
		t.Logf("%d connections, backends reached: %d", ok.Load(), len(seen))
	})
}
