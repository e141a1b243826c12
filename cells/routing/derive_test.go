package routing_test

import (
	"fmt"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hivenet/hivenet/cells/nodes"
	"github.com/hivenet/hivenet/cells/routing"
)

func mkNode(name string, local bool, ip, cidr string) *nodes.Node {
	n := &nodes.Node{Name: name, Local: local}
	if ip != "" {
		n.InternalIP = netip.MustParseAddr(ip)
	}
	if cidr != "" {
		p := netip.MustParsePrefix(cidr)
		n.PodCIDRs = []netip.Prefix{p}
		n.RouterIP = p.Addr().Next()
	}
	return n
}

func TestDesiredNative(t *testing.T) {
	all := []*nodes.Node{
		mkNode("a", true, "192.168.1.1", "10.244.0.0/24"),
		mkNode("b", false, "192.168.1.2", "10.244.1.0/24"),
		mkNode("c", false, "192.168.1.3", ""),              // no pod CIDR yet
		mkNode("d", false, "", "10.244.3.0/24"),            // no address yet
		mkNode("e", false, "192.168.1.5", "10.244.0.0/25"), // overlaps ours
	}
	routes, peers := routing.Desired(routing.ModeNative, all)
	if len(peers) != 0 {
		t.Errorf("native mode wants tunnel peers: %v", peers)
	}
	if len(routes) != 1 || routes[0].Node != "b" || routes[0].Route.String() != "10.244.1.0/24 via 192.168.1.2" {
		t.Fatalf("routes = %v, want only 10.244.1.0/24 via 192.168.1.2", routes)
	}
}

func TestDesiredTunnel(t *testing.T) {
	all := []*nodes.Node{
		mkNode("b", false, "192.168.1.2", "10.244.1.0/24"),
		mkNode("a", true, "192.168.1.1", "10.244.0.0/24"),
	}
	routes, peers := routing.Desired(routing.ModeTunnel, all)
	var got []string
	for _, r := range routes {
		got = append(got, fmt.Sprintf("%s scope %d", r.Route, r.Route.Scope))
	}
	want := []string{
		fmt.Sprintf("10.244.1.0/24 via 10.244.1.1 dev %s scope 0", routing.DeviceName),
		fmt.Sprintf("10.244.1.1/32 dev %s scope %d", routing.DeviceName, unix.RT_SCOPE_LINK),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("routes = %q, want %q", got, want)
	}
	if len(peers) != 1 {
		t.Fatalf("peers = %v", peers)
	}
	p := peers[0]
	if p.IP != netip.MustParseAddr("10.244.1.1") || p.VTEP != netip.MustParseAddr("192.168.1.2") || p.MAC.String() != "0a:68:c0:a8:01:02" {
		t.Fatalf("peer = %+v", p)
	}
}

func TestDesiredSkipsContestedCIDRs(t *testing.T) {
	all := []*nodes.Node{
		mkNode("a", true, "192.168.1.1", "10.244.0.0/24"),
		mkNode("b", false, "192.168.1.2", "10.244.1.0/24"),
		mkNode("c", false, "192.168.1.3", "10.244.1.0/24"),
		mkNode("d", false, "192.168.1.4", "10.244.4.0/24"),
	}
	routes, _ := routing.Desired(routing.ModeNative, all)
	if len(routes) != 1 || routes[0].Node != "d" {
		t.Fatalf("routes = %v, want only d's: a CIDR two nodes claim goes to neither", routes)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg routing.Config
		ok  bool
	}{
		{routing.DefaultConfig, true},
		{routing.Config{RoutingMode: "native", TunnelProtocol: "vxlan"}, true},
		{routing.Config{RoutingMode: "disabled", TunnelProtocol: "vxlan"}, false},
		{routing.Config{RoutingMode: "tunnel", TunnelProtocol: "geneve"}, false},
	} {
		if err := c.cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: %v", c.cfg, err)
		}
	}
	if p := routing.DefaultConfig.Port(); p != 8472 {
		t.Errorf("default port %d, want 8472", p)
	}
}

func ExampleVTEPMAC() {
	fmt.Println(routing.VTEPMAC(netip.MustParseAddr("172.30.5.11")))
	// Output: 0a:68:ac:1e:05:0b
}
