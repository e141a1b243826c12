package routing

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/hivenet/hivenet/cells/nodes"
)

func TestContestedNamesCIDRAndNodes(t *testing.T) {
	p := netip.MustParsePrefix("10.244.0.0/24")
	all := []*nodes.Node{
		{Name: "b", PodCIDRs: []netip.Prefix{p}},
		{Name: "a", PodCIDRs: []netip.Prefix{p}},
		{Name: "c", PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.244.1.0/24")}},
	}
	err := contested(all)
	if !errors.Is(err, ErrContestedPodCIDR) || !strings.Contains(err.Error(), "10.244.0.0/24 by a, b") {
		t.Fatalf("contested = %v", err)
	}
	if err := contested(all[1:]); err != nil {
		t.Fatalf("no contest: %v", err)
	}
}
