package services

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/hivenet/hivenet/bpf"
)

// Config is the services cell's configuration.
type Config struct {
	// Devices are the node's external devices, where NodePort,
	// LoadBalancer and external IP traffic from outside is translated.
	// Empty means the device of the default route.
	Devices []string `flag:"devices" help:"External devices for NodePort, LoadBalancer and external IPs (default: the device of the default route)"`
}

// DefaultConfig detects the external device.
var DefaultConfig = Config{}

// attachNetdevs loads the external device programs and attaches them to
// every device of cfg, each with its own IPv4 address as NodePort address.
// It returns the loaded programs, to close on stop.
func attachNetdevs(cfg Config, dcfg bpf.Config, log *slog.Logger) ([]*bpf.Host, error) {
	devs := cfg.Devices
	if len(devs) == 0 {
		dev, err := defaultRouteDevice()
		if err != nil {
			log.Info("No external device: NodePort, LoadBalancer and external IPs are not served to outside clients", "reason", err)
			return nil, nil
		}
		devs = []string{dev}
	}
	var hosts []*bpf.Host
	for _, dev := range devs {
		ip, err := deviceIPv4(dev)
		if err != nil {
			closeHosts(hosts)
			return nil, err
		}
		h, err := bpf.LoadHost(dcfg, ip, log)
		if err != nil {
			closeHosts(hosts)
			return nil, err
		}
		hosts = append(hosts, h)
		// Connections to remote backends leave with the node's address
		// and their replies are translated back to the client before the
		// kernel forwards them: both carry a local source address, which
		// the kernel only accepts on a device with accept_local.
		if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+dev+"/accept_local", []byte("1"), 0o644); err != nil {
			closeHosts(hosts)
			return nil, fmt.Errorf("set accept_local on %s: %w", dev, err)
		}
		if err := h.Attach(dev); err != nil {
			closeHosts(hosts)
			return nil, err
		}
		log.Info("Serving NodePort, LoadBalancer and external IPs from outside", "device", dev, "node-address", ip)
	}
	return hosts, nil
}

func closeHosts(hs []*bpf.Host) {
	for _, h := range hs {
		h.Close()
	}
}

var errNoDefaultRoute = errors.New("no IPv4 default route")

func defaultRouteDevice() (string, error) {
	routes, err := netlink.RouteList(nil, unix.AF_INET)
	if err != nil {
		return "", fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			l, err := netlink.LinkByIndex(r.LinkIndex)
			if err != nil {
				return "", err
			}
			return l.Attrs().Name, nil
		}
	}
	return "", errNoDefaultRoute
}

func deviceIPv4(dev string) (netip.Addr, error) {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("external device %s: %w", dev, err)
	}
	addrs, err := netlink.AddrList(l, unix.AF_INET)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("addresses of %s: %w", dev, err)
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok && ip.IsGlobalUnicast() {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("external device %s has no IPv4 address for NodePort", dev)
}
