package routing

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"

	vnl "github.com/vishvananda/netlink"
)

// ensureDevice creates the VXLAN device, or keeps the existing one if it
// already has the right VNI and port: recreating it would flush its routes,
// neighbours and FDB entries, and with them cross-node traffic, on every
// agent restart.
func ensureDevice(h *vnl.Handle, port int, log *slog.Logger) error {
	link, err := h.LinkByName(DeviceName)
	var notFound vnl.LinkNotFoundError
	switch {
	case errors.As(err, &notFound):
	case err != nil:
		return fmt.Errorf("look up %s: %w", DeviceName, err)
	default:
		if vx, ok := link.(*vnl.Vxlan); ok && vx.VxlanId == VNI && vx.Port == port && !vx.Learning {
			return setUp(h, link)
		}
		log.Info("Recreating tunnel device with new settings", "device", DeviceName, "port", port, "vni", VNI)
		if err := h.LinkDel(link); err != nil {
			return fmt.Errorf("delete %s to recreate it: %w", DeviceName, err)
		}
	}
	vx := &vnl.Vxlan{LinkAttrs: vnl.LinkAttrs{Name: DeviceName}, VxlanId: VNI, Port: port, Learning: false}
	if err := h.LinkAdd(vx); err != nil {
		return fmt.Errorf("create VXLAN device %s (port %d): %w (is the vxlan kernel module available?)", DeviceName, port, err)
	}
	link, err = h.LinkByName(DeviceName)
	if err != nil {
		return fmt.Errorf("find %s after creating it: %w", DeviceName, err)
	}
	log.Info("Created tunnel device", "device", DeviceName, "port", port, "vni", VNI)
	return setUp(h, link)
}

func setUp(h *vnl.Handle, link vnl.Link) error {
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", link.Attrs().Name, err)
	}
	return nil
}

// setDeviceMAC gives the device the MAC other nodes derive from this node's
// internal IP; frames with another destination MAC would be dropped.
func setDeviceMAC(h *vnl.Handle, mac net.HardwareAddr) error {
	link, err := h.LinkByName(DeviceName)
	if err != nil {
		return fmt.Errorf("look up %s: %w", DeviceName, err)
	}
	if bytes.Equal(link.Attrs().HardwareAddr, mac) {
		return nil
	}
	if err := h.LinkSetHardwareAddr(link, mac); err != nil {
		return fmt.Errorf("set MAC %s on %s: %w", mac, DeviceName, err)
	}
	return nil
}

// removeDevice deletes a VXLAN device left by an earlier run in tunnel
// mode, with its routes; it is hivenet's by name.
func removeDevice(h *vnl.Handle, log *slog.Logger) error {
	link, err := h.LinkByName(DeviceName)
	var notFound vnl.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up %s: %w", DeviceName, err)
	}
	log.Info("Removing tunnel device left from tunnel mode", "device", DeviceName)
	if err := h.LinkDel(link); err != nil {
		return fmt.Errorf("delete %s: %w", DeviceName, err)
	}
	return nil
}
