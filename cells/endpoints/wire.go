package endpoints

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// hostIfName is the node-side veth name of an attachment: "lxc" and a hash
// of it, as Cilium names them, 14 bytes so it fits IFNAMSIZ.
func hostIfName(containerID, ifName string) string {
	sum := sha256.Sum256([]byte(containerID + "/" + ifName))
	return "lxc" + hex.EncodeToString(sum[:])[:11]
}

// errNetnsGone marks a pod namespace path that does not exist (CNI code 3).
var errNetnsGone = errors.New("network namespace does not exist")

// wiring is what wire created, for the endpoint and the CNI result.
type wiring struct {
	hostIfIndex int
	hostMAC     net.HardwareAddr
	podIfIndex  int
	podMAC      net.HardwareAddr
}

// wire creates the veth pair with the pod side in netnsPath named ifName, and
// configures both sides as Cilium does: the pod gets ip/32, a link-scope
// route to the router and a default route through it; the router's address
// resolves statically to the node side's MAC, and the node routes ip/32 to the
// node side with a static neighbour for the pod's MAC, so no ARP is needed in
// either direction. On error everything created is removed again.
func wire(netnsPath, ifName, hostName string, ip, router netip.Addr, mtu int) (w wiring, err error) {
	podNs, err := netns.GetFromPath(netnsPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return w, fmt.Errorf("%w: %s", errNetnsGone, netnsPath)
		}
		return w, fmt.Errorf("open network namespace %s: %w", netnsPath, err)
	}
	defer podNs.Close()
	pod, err := netlink.NewHandleAt(podNs)
	if err != nil {
		return w, fmt.Errorf("netlink in %s: %w", netnsPath, err)
	}
	defer pod.Close()

	if _, err := pod.LinkByName(ifName); err == nil {
		return w, fmt.Errorf("interface %s already exists in %s", ifName, netnsPath)
	}
	// A node-side veth left behind by an earlier failed attempt would make
	// the add fail; its pod side is gone or it would have been found above.
	if old, err := netlink.LinkByName(hostName); err == nil {
		_ = netlink.LinkDel(old)
	}

	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: hostName, MTU: mtu},
		PeerName:      ifName,
		PeerNamespace: netlink.NsFd(int(podNs)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return w, fmt.Errorf("create veth %s/%s: %w", hostName, ifName, err)
	}
	defer func() {
		if err != nil {
			// Deleting one side removes the pair.
			if l, lerr := netlink.LinkByName(hostName); lerr == nil {
				_ = netlink.LinkDel(l)
			}
		}
	}()

	host, err := netlink.LinkByName(hostName)
	if err != nil {
		return w, fmt.Errorf("find %s: %w", hostName, err)
	}
	w.hostIfIndex = host.Attrs().Index
	w.hostMAC = host.Attrs().HardwareAddr

	eth, err := pod.LinkByName(ifName)
	if err != nil {
		return w, fmt.Errorf("find %s in %s: %w", ifName, netnsPath, err)
	}
	w.podIfIndex = eth.Attrs().Index
	w.podMAC = eth.Attrs().HardwareAddr
	if err := pod.LinkSetMTU(eth, mtu); err != nil {
		return w, fmt.Errorf("set MTU of %s: %w", ifName, err)
	}

	if lo, err := pod.LinkByName("lo"); err == nil {
		if err := pod.LinkSetUp(lo); err != nil {
			return w, fmt.Errorf("set lo up in %s: %w", netnsPath, err)
		}
	}
	if err := pod.LinkSetUp(eth); err != nil {
		return w, fmt.Errorf("set %s up: %w", ifName, err)
	}
	if err := pod.AddrAdd(eth, &netlink.Addr{IPNet: hostNet(ip)}); err != nil {
		return w, fmt.Errorf("add %s/32 to %s: %w", ip, ifName, err)
	}
	idx := w.podIfIndex
	if err := pod.RouteAdd(&netlink.Route{LinkIndex: idx, Dst: hostNet(router), Scope: netlink.SCOPE_LINK}); err != nil {
		return w, fmt.Errorf("add route to router %s in pod: %w", router, err)
	}
	if err := pod.RouteAdd(&netlink.Route{LinkIndex: idx, Gw: router.AsSlice(), Src: ip.AsSlice()}); err != nil {
		return w, fmt.Errorf("add default route via %s in pod: %w", router, err)
	}
	if err := pod.NeighAdd(&netlink.Neigh{LinkIndex: idx, Family: unix.AF_INET, State: netlink.NUD_PERMANENT, IP: router.AsSlice(), HardwareAddr: w.hostMAC}); err != nil {
		return w, fmt.Errorf("add router neighbour in pod: %w", err)
	}

	if err := netlink.LinkSetUp(host); err != nil {
		return w, fmt.Errorf("set %s up: %w", hostName, err)
	}
	if err := netlink.RouteReplace(&netlink.Route{LinkIndex: w.hostIfIndex, Dst: hostNet(ip), Scope: netlink.SCOPE_LINK}); err != nil {
		return w, fmt.Errorf("add route to %s via %s: %w", ip, hostName, err)
	}
	if err := netlink.NeighSet(&netlink.Neigh{LinkIndex: w.hostIfIndex, Family: unix.AF_INET, State: netlink.NUD_PERMANENT, IP: ip.AsSlice(), HardwareAddr: w.podMAC}); err != nil {
		return w, fmt.Errorf("add pod neighbour on %s: %w", hostName, err)
	}
	return w, nil
}

// unwire removes the node side of the veth pair, which removes the pod side
// and the routes and neighbours through it. A missing link is not an error.
func unwire(hostName string) error {
	l, err := netlink.LinkByName(hostName)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("find %s: %w", hostName, err)
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("delete %s: %w", hostName, err)
	}
	return nil
}

// checkWiring verifies what CNI CHECK asks: the node side exists and is up,
// and the pod side carries the endpoint's address.
func checkWiring(e *Endpoint) error {
	host, err := netlink.LinkByName(e.HostIfName)
	if err != nil {
		return fmt.Errorf("node-side interface %s: %w", e.HostIfName, err)
	}
	if host.Attrs().Index != e.HostIfIndex {
		return fmt.Errorf("node-side interface %s was replaced (ifindex %d, endpoint has %d)", e.HostIfName, host.Attrs().Index, e.HostIfIndex)
	}
	if host.Attrs().Flags&net.FlagUp == 0 {
		return fmt.Errorf("node-side interface %s is down", e.HostIfName)
	}
	podNs, err := netns.GetFromPath(e.Netns)
	if err != nil {
		return fmt.Errorf("%w: %s", errNetnsGone, e.Netns)
	}
	defer podNs.Close()
	pod, err := netlink.NewHandleAt(podNs)
	if err != nil {
		return err
	}
	defer pod.Close()
	eth, err := pod.LinkByName(e.IfName)
	if err != nil {
		return fmt.Errorf("interface %s in %s: %w", e.IfName, e.Netns, err)
	}
	addrs, err := pod.AddrList(eth, unix.AF_INET)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == e.IPv4 {
			return nil
		}
	}
	return fmt.Errorf("interface %s in %s lacks %s", e.IfName, e.Netns, e.IPv4)
}

// ensureRouterDevice puts the router address on hivenet_host, one end of a
// veth pair with hivenet_net (Cilium's cilium_host/cilium_net), so pods can
// reach the gateway itself and the node owns the address. A veth pair rather
// than a dummy device because veth is everywhere the datapath runs.
func ensureRouterDevice(router netip.Addr) error {
	const name = "hivenet_host"
	l, err := netlink.LinkByName(name)
	if err != nil {
		pair := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: "hivenet_net"}
		if err := netlink.LinkAdd(pair); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create %s: %w", name, err)
		}
		if l, err = netlink.LinkByName(name); err != nil {
			return fmt.Errorf("find %s: %w", name, err)
		}
	}
	if err := netlink.AddrReplace(l, &netlink.Addr{IPNet: hostNet(router)}); err != nil {
		return fmt.Errorf("add router address %s to %s: %w", router, name, err)
	}
	for _, dev := range []string{"hivenet_net", name} {
		l, err := netlink.LinkByName(dev)
		if err != nil {
			return fmt.Errorf("find %s: %w", dev, err)
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up: %w", dev, err)
		}
	}
	return nil
}

func hostNet(a netip.Addr) *net.IPNet {
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(32, 32)}
}
