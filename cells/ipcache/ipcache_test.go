package ipcache

import (
	"net/netip"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"

	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/identity"
	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/nodes"
	"github.com/hivenet/hivenet/reconcilers/bpfmap"
)

func TestLayout(t *testing.T) {
	// Cilium's struct ipcache_key and struct remote_endpoint_info.
	if s := unsafe.Sizeof(Key{}); s != 24 {
		t.Errorf("key is %d bytes, want 24", s)
	}
	if s := unsafe.Sizeof(Value{}); s != 24 {
		t.Errorf("value is %d bytes, want 24", s)
	}
	p := netip.MustParsePrefix("10.1.2.0/24")
	if got := NewKey(p).Prefix(); got != p {
		t.Errorf("key round trip: %s", got)
	}
}

func TestDesired(t *testing.T) {
	ip := netip.MustParseAddr
	cep := func(name, addr, node string, id int64) *v2.CiliumEndpoint {
		c := &v2.CiliumEndpoint{Status: v2.EndpointStatus{
			Identity:   &v2.EndpointIdentity{ID: id},
			Networking: &v2.EndpointNetworking{Addressing: []v2.AddressPair{{IPV4: addr}}, NodeIP: node},
		}}
		c.Namespace, c.Name = "default", name
		return c
	}
	got := Desired(Inputs{
		Endpoints: []*endpoints.Endpoint{{IPv4: ip("10.0.1.5"), Identity: 300, Namespace: "default", Pod: "local"}},
		CEPs: []*v2.CiliumEndpoint{
			cep("remote", "10.0.2.7", "192.168.0.2", 301),
			// A stale CiliumEndpoint of an address now local loses.
			cep("stale", "10.0.1.5", "192.168.0.2", 302),
			// This node's own CiliumEndpoints come from the endpoints table.
			cep("own", "10.0.1.9", "192.168.0.1", 303),
		},
		Nodes: []*nodes.Node{
			{Name: "n1", Local: true, InternalIP: ip("192.168.0.1"), RouterIP: ip("10.0.1.1")},
			{Name: "n2", InternalIP: ip("192.168.0.2"), RouterIP: ip("10.0.2.1")},
		},
		Identities: []*identity.Identity{
			{ID: identity.LocalFlag + 1, Kind: identity.KindCIDR, Prefix: netip.MustParsePrefix("203.0.113.0/24")},
		},
	})
	want := map[string]struct {
		id     uint32
		tunnel string
	}{
		"0.0.0.0/0":      {identity.IDWorld, ""},
		"203.0.113.0/24": {identity.LocalFlag + 1, ""},
		"192.168.0.1/32": {identity.IDHost, ""},
		"10.0.1.1/32":    {identity.IDHost, ""},
		"192.168.0.2/32": {identity.IDRemoteNode, "192.168.0.2"},
		"10.0.2.1/32":    {identity.IDRemoteNode, "192.168.0.2"},
		"10.0.2.7/32":    {301, "192.168.0.2"},
		"10.0.1.5/32":    {300, ""},
	}
	if len(got) != len(want) {
		t.Errorf("%d entries, want %d: %v", len(got), len(want), got)
	}
	for p, w := range want {
		e, ok := got[netip.MustParsePrefix(p)]
		if !ok {
			t.Errorf("%s missing", p)
			continue
		}
		tun := ""
		if e.TunnelEndpoint.IsValid() {
			tun = e.TunnelEndpoint.String()
		}
		if e.Identity != w.id || tun != w.tunnel {
			t.Errorf("%s: identity %d tunnel %q, want %d %q", p, e.Identity, tun, w.id, w.tunnel)
		}
	}
}

// The kernel's longest-prefix match over the map gives the datapath the
// most specific identity. Needs root (BPF).
func TestMapLongestPrefixMatch(t *testing.T) {
	m, err := bpfmap.New[Key, Value](bpfmap.Spec{Name: "hvpo_ipc_test", Type: ebpf.LPMTrie, MaxEntries: 16}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Open(); err != nil {
		t.Fatalf("create LPM map (needs root and BPF): %v", err)
	}
	defer m.Close()
	for _, e := range []*Entry{
		{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Identity: identity.IDWorld},
		{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Identity: identity.LocalFlag + 1},
		{Prefix: netip.MustParsePrefix("192.0.2.10/32"), Identity: 400, TunnelEndpoint: netip.MustParseAddr("192.168.0.2")},
	} {
		if err := m.Update(NewKey(e.Prefix), NewValue(e)); err != nil {
			t.Fatal(err)
		}
	}
	for addr, want := range map[string]uint32{"192.0.2.10": 400, "192.0.2.11": identity.LocalFlag + 1, "8.8.8.8": identity.IDWorld} {
		v, err := m.Lookup(NewKey(netip.PrefixFrom(netip.MustParseAddr(addr), 32)))
		if err != nil {
			t.Fatalf("lookup %s: %v", addr, err)
		}
		if v.SecIdentity != want {
			t.Errorf("%s: identity %d, want %d", addr, v.SecIdentity, want)
		}
	}
	v, _ := m.Lookup(NewKey(netip.MustParsePrefix("192.0.2.10/32")))
	if tun, ok := v.Tunnel(); !ok || tun.String() != "192.168.0.2" {
		t.Errorf("tunnel endpoint %v %v", tun, ok)
	}
}
