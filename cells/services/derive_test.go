package services

import (
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/hivenet/hivenet/bpf"
)

func ptr[T any](v T) *T { return &v }

func testService(name string, mutate ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  "10.96.0.10",
			ClusterIPs: []string{"10.96.0.10"},
			Ports:      []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web")}},
		},
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}

type testEP struct {
	ip          string
	node        string
	ready       bool
	serving     bool
	terminating bool
}

func testSlice(svc, name string, port int32, eps ...testEP) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(port), Protocol: ptr(corev1.ProtocolTCP)}},
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{e.ip},
			NodeName:   ptr(e.node),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(e.ready), Serving: ptr(e.serving), Terminating: ptr(e.terminating)},
		})
	}
	return s
}

func ready(ip, node string) testEP { return testEP{ip: ip, node: node, ready: true, serving: true} }
func terminating(ip, node string) testEP {
	return testEP{ip: ip, node: node, serving: true, terminating: true}
}

func addr(s string) L3n4Addr {
	a, err := parseL3n4Addr(s)
	if err != nil {
		panic(err)
	}
	return a
}

func backendAddrs(bes []FrontendBackend) []string {
	var out []string
	for _, b := range bes {
		s := b.Address.String()
		if b.State != BackendStateActive {
			s += " " + b.State.String()
		}
		out = append(out, s)
	}
	return out
}

func frontendOf(t *testing.T, d *derived, a string) *Frontend {
	t.Helper()
	for _, fe := range d.frontends {
		if fe.Address == addr(a) {
			return fe
		}
	}
	t.Fatalf("no frontend %s", a)
	return nil
}

func TestDeriveClusterIPNamedTargetPortPerBackend(t *testing.T) {
	// The endpoint slice controller puts pods whose "web" port differs in
	// different slices: each backend gets its own port.
	d := derive(testService("web"), []*discoveryv1.EndpointSlice{
		testSlice("web", "web-a", 8080, ready("10.0.1.5", "n1")),
		testSlice("web", "web-b", 9090, ready("10.0.1.6", "n2")),
	}, "n1")
	if len(d.frontends) != 1 {
		t.Fatalf("%d frontends, want 1", len(d.frontends))
	}
	fe := d.frontends[0]
	if fe.Address != addr("10.96.0.10:80/TCP") || fe.Type != SVCTypeClusterIP || fe.PortName != "http" {
		t.Errorf("frontend %+v", fe)
	}
	want := []string{"10.0.1.5:8080/TCP", "10.0.1.6:9090/TCP"}
	if got := backendAddrs(fe.Backends); !slices.Equal(got, want) {
		t.Errorf("backends %v, want %v", got, want)
	}
	if len(d.backends) != 2 || d.backends[1].NodeName != "n2" {
		t.Errorf("backends table rows %+v", d.backends)
	}
}

func TestDeriveTerminatingFallback(t *testing.T) {
	notServing := testEP{ip: "10.0.1.9", node: "n1", terminating: true}
	d := derive(testService("web"), []*discoveryv1.EndpointSlice{
		testSlice("web", "s", 8080, ready("10.0.1.5", "n1"), terminating("10.0.1.6", "n1"), notServing),
	}, "n1")
	fe := d.frontends[0]
	if got, want := backendAddrs(fe.Backends), []string{"10.0.1.5:8080/TCP", "10.0.1.6:8080/TCP terminating"}; !slices.Equal(got, want) {
		t.Fatalf("backends %v, want %v (not serving ones left out)", got, want)
	}
	if got := backendAddrs(fe.Slots()); !slices.Equal(got, []string{"10.0.1.5:8080/TCP"}) {
		t.Errorf("slots %v: only the ready backend serves new connections", got)
	}

	// No ready endpoint left: the terminating ones that still serve do.
	d = derive(testService("web"), []*discoveryv1.EndpointSlice{
		testSlice("web", "s", 8080, terminating("10.0.1.6", "n1"), notServing),
	}, "n1")
	if got := backendAddrs(d.frontends[0].Slots()); !slices.Equal(got, []string{"10.0.1.6:8080/TCP terminating"}) {
		t.Errorf("slots %v, want the serving terminating backend as fallback", got)
	}
}

func TestDeriveTrafficPolicies(t *testing.T) {
	svc := testService("web", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports[0].NodePort = 30080
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.HealthCheckNodePort = 31000
		s.Spec.InternalTrafficPolicy = ptr(corev1.ServiceInternalTrafficPolicyLocal)
		s.Spec.ExternalIPs = []string{"192.0.2.10", "2001:db8::1"}
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.7"}}
	})
	slices_ := []*discoveryv1.EndpointSlice{testSlice("web", "s", 8080, ready("10.0.1.5", "n1"), ready("10.0.2.5", "n2"))}

	d := derive(svc, slices_, "n1")
	if d.service.ExtTrafficPolicy != TrafficPolicyLocal || d.service.IntTrafficPolicy != TrafficPolicyLocal ||
		d.service.HealthCheckNodePort != 31000 || d.service.LocalBackends != 1 {
		t.Errorf("service %+v", d.service)
	}
	local := []string{"10.0.1.5:8080/TCP"}
	for _, c := range []struct {
		fe     string
		typ    SVCType
		flags  uint8
		flags2 uint8
	}{
		{"10.96.0.10:80/TCP", SVCTypeClusterIP, 0, bpf.SvcFlag2IntLocalScope},
		{"0.0.0.0:30080/TCP", SVCTypeNodePort, bpf.SvcFlagNodePort | bpf.SvcFlagExtLocalScope, 0},
		{"192.0.2.10:80/TCP", SVCTypeExternalIPs, bpf.SvcFlagExternalIP | bpf.SvcFlagExtLocalScope, 0},
		{"198.51.100.7:80/TCP", SVCTypeLoadBalancer, bpf.SvcFlagLoadBalancer | bpf.SvcFlagExtLocalScope, 0},
	} {
		fe := frontendOf(t, d, c.fe)
		if fe.Type != c.typ || fe.Flags != c.flags || fe.Flags2 != c.flags2 {
			t.Errorf("%s: type %s flags %#x/%#x, want %s %#x/%#x", c.fe, fe.Type, fe.Flags, fe.Flags2, c.typ, c.flags, c.flags2)
		}
		if got := backendAddrs(fe.Backends); !slices.Equal(got, local) {
			t.Errorf("%s: backends %v, want only this node's %v", c.fe, got, local)
		}
	}
	if len(d.frontends) != 4 {
		t.Errorf("%d frontends, want 4 (the IPv6 external IP is not served)", len(d.frontends))
	}

	// On a node without a local endpoint, Local frontends have none.
	d = derive(svc, slices_, "n3")
	if fe := frontendOf(t, d, "0.0.0.0:30080/TCP"); len(fe.Backends) != 0 || d.service.LocalBackends != 0 {
		t.Errorf("node without local endpoints: backends %v, local %d", backendAddrs(fe.Backends), d.service.LocalBackends)
	}

	// Cluster policies use every endpoint.
	d = derive(testService("web", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30080
	}), slices_, "n3")
	if fe := frontendOf(t, d, "0.0.0.0:30080/TCP"); len(fe.Backends) != 2 {
		t.Errorf("Cluster policy: backends %v, want both", backendAddrs(fe.Backends))
	}
}

func TestDeriveAffinityAndPorts(t *testing.T) {
	svc := testService("dns", func(s *corev1.Service) {
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr[int32](30)}}
		s.Spec.Ports = []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
			{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
			{Name: "sctp", Port: 99, Protocol: corev1.ProtocolSCTP},
		}
	})
	sl := testSlice("dns", "s", 0, ready("10.0.1.5", "n1"))
	sl.Ports = []discoveryv1.EndpointPort{
		{Name: ptr("dns"), Port: ptr[int32](5353), Protocol: ptr(corev1.ProtocolUDP)},
		{Name: ptr("dns-tcp"), Port: ptr[int32](5354), Protocol: ptr(corev1.ProtocolTCP)},
	}
	d := derive(svc, []*discoveryv1.EndpointSlice{sl}, "n1")
	if len(d.frontends) != 2 {
		t.Fatalf("%d frontends, want UDP and TCP (SCTP is not translated)", len(d.frontends))
	}
	udp := frontendOf(t, d, "10.96.0.10:53/UDP")
	if got := backendAddrs(udp.Backends); !slices.Equal(got, []string{"10.0.1.5:5353/UDP"}) {
		t.Errorf("UDP backends %v", got)
	}
	if udp.Flags&bpf.SvcFlagAffinity == 0 || udp.AffinityTimeout != 30 {
		t.Errorf("affinity flags %#x timeout %d, want ClientIP for 30s", udp.Flags, udp.AffinityTimeout)
	}
	if got := backendAddrs(frontendOf(t, d, "10.96.0.10:53/TCP").Backends); !slices.Equal(got, []string{"10.0.1.5:5354/TCP"}) {
		t.Errorf("TCP backends %v", got)
	}
}

func TestDeriveSkipsExternalNameAndHeadless(t *testing.T) {
	if d := derive(testService("ext", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }), nil, "n1"); d != nil {
		t.Errorf("ExternalName derived %+v", d)
	}
	d := derive(testService("headless", func(s *corev1.Service) {
		s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
	}), nil, "n1")
	if len(d.frontends) != 0 {
		t.Errorf("headless service has frontends %+v", d.frontends)
	}
}

func TestMaglevTable(t *testing.T) {
	bes := func(n int) []FrontendBackend {
		var out []FrontendBackend
		for i := range n {
			out = append(out, FrontendBackend{ID: uint32(i + 1), Address: L3n4Addr{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), Port: 80, Proto: bpf.ProtoTCP}})
		}
		return out
	}
	t10 := maglevTable(bes(10))
	count := map[uint32]int{}
	for _, id := range t10.BackendIds {
		count[id]++
	}
	if len(count) != 10 || count[0] != 0 {
		t.Fatalf("table uses %v, want all 10 backends and no empty entry", count)
	}
	for id, n := range count {
		if n < bpf.MaglevTableSize/10-2 || n > bpf.MaglevTableSize/10+2 {
			t.Errorf("backend %d has %d entries, want about %d", id, n, bpf.MaglevTableSize/10)
		}
	}
	// Removing one backend moves little besides its own entries.
	t9 := maglevTable(bes(10)[:9])
	moved := 0
	for i := range t10.BackendIds {
		if t10.BackendIds[i] != 10 && t10.BackendIds[i] != t9.BackendIds[i] {
			moved++
		}
	}
	if moved > bpf.MaglevTableSize/10 {
		t.Errorf("%d entries of remaining backends moved when one of 10 left", moved)
	}
	if *maglevTable(bes(10)) != *t10 {
		t.Error("the table is not deterministic")
	}
}

func TestIDAllocator(t *testing.T) {
	a := newIDAllocator[uint16]("frontend", 3)
	a.restore(addr("10.0.0.1:80/TCP"), 2)
	id1, _ := a.acquire(addr("10.0.0.2:80/TCP"))
	if id1 != 3 {
		t.Errorf("first new id %d, want 3 (after the restored 2)", id1)
	}
	if id, _ := a.acquire(addr("10.0.0.1:80/TCP")); id != 2 {
		t.Errorf("restored address got %d, want its id 2", id)
	}
	id3, err := a.acquire(addr("10.0.0.3:80/TCP"))
	if err != nil || id3 != 1 {
		t.Errorf("third id %d, %v; want 1 after wrapping", id3, err)
	}
	if _, err := a.acquire(addr("10.0.0.4:80/TCP")); err == nil {
		t.Error("a fourth id out of 3")
	}
	a.release(addr("10.0.0.2:80/TCP"))
	if id, err := a.acquire(addr("10.0.0.4:80/TCP")); err != nil || id != 3 {
		t.Errorf("after release got %d, %v; want the freed 3", id, err)
	}
}
