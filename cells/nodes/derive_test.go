package nodes_test

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v2 "github.com/hivenet/hivenet/cells/k8s/apis/cilium.io/v2"
	"github.com/hivenet/hivenet/cells/nodes"
)

func k8sNode(name, ip string, cidrs ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)}}
	n.Spec.PodCIDRs = cidrs
	if len(cidrs) > 0 {
		n.Spec.PodCIDR = cidrs[0]
	}
	if ip != "" {
		n.Status.Addresses = []corev1.NodeAddress{
			{Type: corev1.NodeHostName, Address: name},
			{Type: corev1.NodeInternalIP, Address: ip},
		}
	}
	return n
}

func ciliumNode(name string, addrs []v2.NodeAddress, cidrs ...string) *v2.CiliumNode {
	cn := &v2.CiliumNode{ObjectMeta: metav1.ObjectMeta{Name: name}}
	cn.Spec.Addresses = addrs
	cn.Spec.IPAM.PodCIDRs = cidrs
	return cn
}

func TestDerive(t *testing.T) {
	addr := netip.MustParseAddr
	pfx := netip.MustParsePrefix
	for _, tc := range []struct {
		name string
		node *corev1.Node
		cn   *v2.CiliumNode
		want nodes.Node
	}{{
		name: "node only: router is the first address of the pod CIDR",
		node: k8sNode("a", "192.168.1.11", "10.244.1.0/24"),
		want: nodes.Node{Name: "a", Local: true, InternalIP: addr("192.168.1.11"),
			PodCIDRs: []netip.Prefix{pfx("10.244.1.0/24")}, RouterIP: addr("10.244.1.1")},
	}, {
		name: "node without pod CIDR yet",
		node: k8sNode("b", "192.168.1.12"),
		want: nodes.Node{Name: "b", InternalIP: addr("192.168.1.12")},
	}, {
		name: "IPv4 first, whatever the order in the Node",
		node: k8sNode("b", "192.168.1.12", "fd00:1::/64", "10.244.2.0/24"),
		want: nodes.Node{Name: "b", InternalIP: addr("192.168.1.12"),
			PodCIDRs: []netip.Prefix{pfx("10.244.2.0/24"), pfx("fd00:1::/64")}, RouterIP: addr("10.244.2.1")},
	}, {
		name: "CiliumNode's pod CIDR and router win, Node's address wins",
		node: k8sNode("b", "192.168.1.12", "10.244.2.0/24"),
		cn: ciliumNode("b", []v2.NodeAddress{
			{Type: v2.NodeInternalIP, IP: "192.168.9.9"},
			{Type: v2.NodeCiliumIntIP, IP: "10.7.0.9"},
		}, "10.7.0.0/24"),
		want: nodes.Node{Name: "b", InternalIP: addr("192.168.1.12"),
			PodCIDRs: []netip.Prefix{pfx("10.7.0.0/24")}, RouterIP: addr("10.7.0.9")},
	}, {
		name: "a CiliumInternalIP outside the pod CIDR is ignored",
		node: k8sNode("b", "192.168.1.12", "10.244.2.0/24"),
		cn:   ciliumNode("b", []v2.NodeAddress{{Type: v2.NodeCiliumIntIP, IP: "10.99.0.1"}}),
		want: nodes.Node{Name: "b", InternalIP: addr("192.168.1.12"),
			PodCIDRs: []netip.Prefix{pfx("10.244.2.0/24")}, RouterIP: addr("10.244.2.1")},
	}, {
		name: "CiliumNode only, with a WireGuard key",
		cn: func() *v2.CiliumNode {
			cn := ciliumNode("c", []v2.NodeAddress{{Type: v2.NodeInternalIP, IP: "192.168.1.13"}, {Type: v2.NodeInternalIP, IP: "junk"}}, "10.244.3.0/24", "bad")
			cn.Annotations = map[string]string{v2.WireguardPubKeyAnnotation: "a2V5"}
			return cn
		}(),
		want: nodes.Node{Name: "c", InternalIP: addr("192.168.1.13"),
			PodCIDRs: []netip.Prefix{pfx("10.244.3.0/24")}, RouterIP: addr("10.244.3.1"), WireguardPubKey: "a2V5"},
	}} {
		got := nodes.Derive(tc.node, tc.cn, "a")
		if !got.Equal(&tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, *got, tc.want)
		}
	}
}

func TestDesiredUnionOfBothKinds(t *testing.T) {
	got := nodes.Desired(
		[]*corev1.Node{k8sNode("a", "192.168.1.11", "10.244.1.0/24"), k8sNode("b", "192.168.1.12")},
		[]*v2.CiliumNode{ciliumNode("b", nil, "10.244.2.0/24"), ciliumNode("c", nil, "10.244.3.0/24")},
		"b")
	if len(got) != 3 {
		t.Fatalf("%d nodes, want 3: %v", len(got), got)
	}
	if b := got["b"]; !b.Local || b.RouterIP != netip.MustParseAddr("10.244.2.1") || b.InternalIP != netip.MustParseAddr("192.168.1.12") {
		t.Errorf("b = %+v", *b)
	}
	if c := got["c"]; c.Local || c.InternalIP.IsValid() {
		t.Errorf("c = %+v", *c)
	}
}

func TestDesiredCiliumNodeKeepsForeignFields(t *testing.T) {
	n := k8sNode("a", "192.168.1.11", "10.244.1.0/24")
	cur := ciliumNode("a", []v2.NodeAddress{{Type: v2.NodeInternalIP, IP: "192.168.1.99"}})
	cur.Annotations = map[string]string{v2.WireguardPubKeyAnnotation: "a2V5"}
	cur.Spec.Encryption.Key = 3
	got := nodes.DesiredCiliumNode(cur, n, netip.MustParsePrefix("10.244.1.0/24"))
	if got == cur || cur.Spec.Addresses[0].IP != "192.168.1.99" {
		t.Fatal("the current object was modified")
	}
	want := []v2.NodeAddress{{Type: v2.NodeInternalIP, IP: "192.168.1.11"}, {Type: v2.NodeCiliumIntIP, IP: "10.244.1.1"}}
	if len(got.Spec.Addresses) != 2 || got.Spec.Addresses[0] != want[0] || got.Spec.Addresses[1] != want[1] {
		t.Errorf("addresses = %v, want %v", got.Spec.Addresses, want)
	}
	if len(got.Spec.IPAM.PodCIDRs) != 1 || got.Spec.IPAM.PodCIDRs[0] != "10.244.1.0/24" {
		t.Errorf("pod CIDRs = %v", got.Spec.IPAM.PodCIDRs)
	}
	if got.Annotations[v2.WireguardPubKeyAnnotation] != "a2V5" || got.Spec.Encryption.Key != 3 {
		t.Error("fields the agent does not own were dropped")
	}
	if len(got.OwnerReferences) != 1 || got.OwnerReferences[0].Kind != "Node" || got.OwnerReferences[0].UID != n.UID {
		t.Errorf("owner = %v, want the Node", got.OwnerReferences)
	}
}
