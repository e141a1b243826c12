package services

import (
	"cmp"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/hivenet/hivenet/bpf"
)

// defaultAffinityTimeout is Kubernetes' default sessionAffinityConfig
// timeout (3 hours).
const defaultAffinityTimeout = 10800

// derived is what one Service contributes to the tables, before ids are
// allocated: frontends with their backends' addresses, and the backends.
type derived struct {
	service   *Service
	frontends []*Frontend // FrontendBackend.ID left 0, Frontend.ID left 0
	backends  []*Backend  // Services holds only this service; ID left 0
}

// endpoint is one endpoint address of a service port, resolved.
type endpoint struct {
	addr        L3n4Addr
	state       BackendState
	node, zone  string
	ready       bool
	terminating bool
}

// derive computes what svc and its endpoint slices ask of the load
// balancer on node. It returns nil for services the load balancer does not
// serve (ExternalName, headless).
func derive(svc *corev1.Service, slices_ []*discoveryv1.EndpointSlice, node string) *derived {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	name := ServiceName{Namespace: svc.Namespace, Name: svc.Name}
	s := &Service{
		Name:             name,
		ExtTrafficPolicy: TrafficPolicyCluster,
		IntTrafficPolicy: TrafficPolicyCluster,
	}
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		s.SessionAffinity = true
		s.SessionAffinityTimeout = defaultAffinityTimeout
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			s.SessionAffinityTimeout = uint32(*c.ClientIP.TimeoutSeconds)
		}
	}
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		s.ExtTrafficPolicy = TrafficPolicyLocal
		s.HealthCheckNodePort = uint16(svc.Spec.HealthCheckNodePort)
	}
	if p := svc.Spec.InternalTrafficPolicy; p != nil && *p == corev1.ServiceInternalTrafficPolicyLocal {
		s.IntTrafficPolicy = TrafficPolicyLocal
	}
	d := &derived{service: s}

	var clusterIPs, externalIPs, lbIPs []netip.Addr
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		ips := svc.Spec.ClusterIPs
		if len(ips) == 0 && svc.Spec.ClusterIP != "" {
			ips = []string{svc.Spec.ClusterIP}
		}
		clusterIPs = parseIPv4s(ips)
	}
	externalIPs = parseIPv4s(svc.Spec.ExternalIPs)
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			lbIPs = append(lbIPs, parseIPv4s([]string{ing.IP})...)
		}
	}
	nodePorts := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer

	localBackends := map[L3n4Addr]bool{}
	backends := map[L3n4Addr]*Backend{}
	for _, sp := range svc.Spec.Ports {
		proto, ok := protoOf(sp.Protocol)
		if !ok {
			continue
		}
		eps := endpointsOf(slices_, sp.Name, sp.Protocol, proto)
		for _, ep := range eps {
			if _, ok := backends[ep.addr]; !ok {
				backends[ep.addr] = &Backend{Address: ep.addr, State: ep.state, NodeName: ep.node, Zone: ep.zone, Services: []ServiceName{name}}
			}
			if ep.node == node && ep.state == BackendStateActive {
				localBackends[ep.addr] = true
			}
		}
		internal := selectBackends(eps, s.IntTrafficPolicy, node)
		external := selectBackends(eps, s.ExtTrafficPolicy, node)

		add := func(addr netip.Addr, port uint16, typ SVCType, bes []FrontendBackend, flags, flags2 uint8) {
			fe := &Frontend{
				Address:     L3n4Addr{Addr: addr, Port: port, Proto: proto},
				Type:        typ,
				ServiceName: name,
				PortName:    sp.Name,
				Backends:    bes,
				Flags:       flags,
				Flags2:      flags2,
			}
			if s.SessionAffinity {
				fe.Flags |= bpf.SvcFlagAffinity
				fe.AffinityTimeout = s.SessionAffinityTimeout
			}
			d.frontends = append(d.frontends, fe)
		}
		extFlags := uint8(0)
		if s.ExtTrafficPolicy == TrafficPolicyLocal {
			extFlags |= bpf.SvcFlagExtLocalScope
		}
		intFlags2 := uint8(0)
		if s.IntTrafficPolicy == TrafficPolicyLocal {
			intFlags2 |= bpf.SvcFlag2IntLocalScope
		}
		for _, ip := range clusterIPs {
			add(ip, uint16(sp.Port), SVCTypeClusterIP, internal, 0, intFlags2)
		}
		if nodePorts && sp.NodePort != 0 {
			add(netip.IPv4Unspecified(), uint16(sp.NodePort), SVCTypeNodePort, external, bpf.SvcFlagNodePort|extFlags, 0)
		}
		for _, ip := range externalIPs {
			add(ip, uint16(sp.Port), SVCTypeExternalIPs, external, bpf.SvcFlagExternalIP|extFlags, 0)
		}
		for _, ip := range lbIPs {
			add(ip, uint16(sp.Port), SVCTypeLoadBalancer, external, bpf.SvcFlagLoadBalancer|extFlags, 0)
		}
	}
	s.LocalBackends = len(localBackends)
	for _, b := range backends {
		d.backends = append(d.backends, b)
	}
	slices.SortFunc(d.backends, func(a, b *Backend) int { return compareAddr(a.Address, b.Address) })
	return d
}

func parseIPv4s(ss []string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			out = append(out, a)
		}
	}
	return out
}

func protoOf(p corev1.Protocol) (uint8, bool) {
	switch p {
	case corev1.ProtocolTCP, "":
		return bpf.ProtoTCP, true
	case corev1.ProtocolUDP:
		return bpf.ProtoUDP, true
	}
	// SCTP: the datapath does not translate it.
	return 0, false
}

// endpointsOf resolves the endpoints of the service port named portName:
// each slice names the port number its endpoints use for it, which is how a
// named targetPort resolves to different numbers on different pods.
// Endpoints neither ready nor serving are left out.
func endpointsOf(eps []*discoveryv1.EndpointSlice, portName string, protocol corev1.Protocol, proto uint8) []endpoint {
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	var out []endpoint
	for _, sl := range eps {
		if sl.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		port := uint16(0)
		for _, p := range sl.Ports {
			name, pr := "", corev1.ProtocolTCP
			if p.Name != nil {
				name = *p.Name
			}
			if p.Protocol != nil {
				pr = *p.Protocol
			}
			if name == portName && pr == protocol && p.Port != nil {
				port = uint16(*p.Port)
				break
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range sl.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			addr, err := netip.ParseAddr(e.Addresses[0])
			if err != nil || !addr.Is4() {
				continue
			}
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			serving := ready
			if e.Conditions.Serving != nil {
				serving = *e.Conditions.Serving
			}
			terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			ep := endpoint{addr: L3n4Addr{Addr: addr, Port: port, Proto: proto}, ready: ready && !terminating, terminating: terminating}
			switch {
			case ep.ready:
				ep.state = BackendStateActive
			case serving && terminating:
				ep.state = BackendStateTerminating
			default:
				continue
			}
			if e.NodeName != nil {
				ep.node = *e.NodeName
			}
			if e.Zone != nil {
				ep.zone = *e.Zone
			}
			out = append(out, ep)
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int { return compareAddr(a.addr, b.addr) })
	return slices.CompactFunc(out, func(a, b endpoint) bool { return a.addr == b.addr })
}

// selectBackends applies a traffic policy: Local keeps this node's
// endpoints only. Active and terminating endpoints both stay; the frontend's
// Slots decide which serve new connections.
func selectBackends(eps []endpoint, policy TrafficPolicy, node string) []FrontendBackend {
	out := []FrontendBackend{}
	for _, ep := range eps {
		if policy == TrafficPolicyLocal && ep.node != node {
			continue
		}
		out = append(out, FrontendBackend{Address: ep.addr, State: ep.state})
	}
	return out
}

func compareAddr(a, b L3n4Addr) int {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Port, b.Port); c != 0 {
		return c
	}
	return cmp.Compare(a.Proto, b.Proto)
}
