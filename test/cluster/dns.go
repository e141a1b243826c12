package cluster

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	listersdiscoveryv1 "k8s.io/client-go/listers/discovery/v1"
)

// dnsServer answers A queries for <service>.<namespace>.svc.cluster.local:
// the ClusterIP, or for a headless service the ready endpoint addresses.
// It stands in for CoreDNS; the box has no container runtime to run it.
type dnsServer struct {
	conn     net.PacketConn
	services listerscorev1.ServiceLister
	slices   listersdiscoveryv1.EndpointSliceLister
	log      *slog.Logger
	factory  informers.SharedInformerFactory
}

const clusterDomain = "svc.cluster.local."

func startDNS(ctx context.Context, addr netip.Addr, cs kubernetes.Interface, log *slog.Logger) (*dnsServer, error) {
	conn, err := net.ListenPacket("udp4", netip.AddrPortFrom(addr, 53).String())
	if err != nil {
		return nil, err
	}
	f := informers.NewSharedInformerFactory(cs, 0)
	d := &dnsServer{
		conn: conn, log: log, factory: f,
		services: f.Core().V1().Services().Lister(),
		slices:   f.Discovery().V1().EndpointSlices().Lister(),
	}
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	go d.serve()
	return d, nil
}

func (d *dnsServer) close() {
	d.conn.Close()
	d.factory.Shutdown()
}

func (d *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp, ok := d.answer(buf[:n]); ok {
			_, _ = d.conn.WriteTo(resp, from)
		}
	}
}

func (d *dnsServer) answer(req []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	hdr, err := p.Start(req)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	resp := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: hdr.ID, Response: true, Authoritative: true, RecursionDesired: hdr.RecursionDesired},
		Questions: []dnsmessage.Question{q},
	}
	ips, known := d.lookup(strings.ToLower(q.Name.String()))
	switch {
	case !known:
		resp.Header.RCode = dnsmessage.RCodeNameError
	case q.Type == dnsmessage.TypeA:
		for _, ip := range ips {
			resp.Answers = append(resp.Answers, dnsmessage.Resource{
				Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 5},
				Body:   &dnsmessage.AResource{A: ip.As4()},
			})
		}
	}
	out, err := resp.Pack()
	return out, err == nil
}

// lookup resolves a name under svc.cluster.local; known is false for names
// the cluster does not have (NXDOMAIN).
func (d *dnsServer) lookup(name string) (ips []netip.Addr, known bool) {
	rest, ok := strings.CutSuffix(name, "."+clusterDomain)
	if !ok {
		return nil, false
	}
	svcName, ns, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(ns, ".") {
		return nil, false
	}
	svc, err := d.services.Services(ns).Get(svcName)
	if err != nil {
		return nil, false
	}
	if svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil {
			return []netip.Addr{ip}, true
		}
	}
	slices, _ := d.slices.EndpointSlices(ns).List(labelsFor(svcName))
	for _, s := range slices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				if ip, err := netip.ParseAddr(a); err == nil {
					ips = append(ips, ip)
				}
			}
		}
	}
	return ips, true
}
