package bpf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrNotAttached is returned by Detach for a device that has none of the
// datapath's programs.
var ErrNotAttached = errors.New("datapath not attached")

// AttachMode says how programs are attached to a device.
type AttachMode string

const (
	// AttachTCX is a TCX link, pinned under <bpf-root>/links.
	AttachTCX AttachMode = "tcx"
	// AttachTC is a cls_bpf filter on a clsact qdisc.
	AttachTC AttachMode = "tc"
)

// hook is one of the two attachment points of an endpoint's veth.
type hook struct {
	name    string // pin and filter name suffix
	tcx     ebpf.AttachType
	tcPar   uint32
	program func(*Datapath) *ebpf.Program
}

var hooks = []hook{
	{"from-container", ebpf.AttachTCXIngress, netlink.HANDLE_MIN_INGRESS, (*Datapath).FromContainer},
	{"to-container", ebpf.AttachTCXEgress, netlink.HANDLE_MIN_EGRESS, (*Datapath).ToContainer},
}

// tc filter identity: one filter per direction, found again by priority
// and handle when a restarted agent replaces its program.
const (
	tcPriority = 1
	tcHandle   = 1
)

// attachment is what d holds for one attached device.
type attachment struct {
	ifindex int
	mode    AttachMode
	links   map[string]link.Link // by hook name, TCX only
}

func (a *attachment) close() error {
	var errs []error
	for _, l := range a.links {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// linkPin is where dev's link for h is pinned: bpffs rejects dots in
// names, device names cannot contain slashes.
func (d *Datapath) linkPin(dev string, h hook) string {
	return filepath.Join(d.cfg.BPFRoot, linksDir, dev, h.name)
}

// adoptPinnedLinks swaps the programs of links pinned by an earlier
// Datapath for d's, and removes pins whose device is gone.
func (d *Datapath) adoptPinnedLinks() error {
	dir := filepath.Join(d.cfg.BPFRoot, linksDir)
	devs, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read pinned links: %w", err)
	}
	for _, de := range devs {
		dev := de.Name()
		for _, h := range hooks {
			path := d.linkPin(dev, h)
			l, err := link.LoadPinnedLink(path, nil)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("open pinned link %s: %w", path, err)
			}
			info, err := l.Info()
			if err != nil || info.TCX() == nil || info.TCX().Ifindex == 0 {
				// The device was deleted while no agent ran.
				d.log.Info("Removing pinned link of a deleted device", "device", dev, "program", h.name)
				l.Unpin()
				l.Close()
				continue
			}
			if err := l.Update(h.program(d)); err != nil {
				l.Close()
				return fmt.Errorf("update program of pinned link %s: %w", path, err)
			}
			a := d.attached[dev]
			if a == nil {
				a = &attachment{ifindex: int(info.TCX().Ifindex), mode: AttachTCX, links: map[string]link.Link{}}
				d.attached[dev] = a
			}
			a.links[h.name] = l
		}
		// Empty once every link of the device is gone.
		os.Remove(filepath.Join(dir, dev))
	}
	return nil
}

// Attach attaches from-container to the ingress and to-container to the
// egress of the device named dev, in the calling thread's network
// namespace. Attaching an attached device swaps in d's programs, so a
// restarted agent calls Attach for every endpoint it restores. The
// returned mode says how the programs were attached.
func (d *Datapath) Attach(dev string) (AttachMode, error) {
	nl, err := netlink.LinkByName(dev)
	if err != nil {
		return "", fmt.Errorf("attach datapath to %s: %w", dev, err)
	}
	ifindex := nl.Attrs().Index

	d.mu.Lock()
	defer d.mu.Unlock()

	a := d.attached[dev]
	if a != nil && a.ifindex != ifindex {
		// Same name, new device: the old one's links went with it.
		for _, h := range hooks {
			d.dropTCXLink(dev, h, a)
		}
		a = nil
	}
	if a == nil {
		a = &attachment{ifindex: ifindex, links: map[string]link.Link{}}
	}

	if d.tcx {
		err := d.attachTCX(dev, a)
		if errors.Is(err, ebpf.ErrNotSupported) {
			d.log.Info("TCX is not supported by the kernel, attaching with clsact and cls_bpf")
			d.tcx = false
		} else if err != nil {
			return "", err
		} else {
			a.mode = AttachTCX
			d.attached[dev] = a
			// Filters of an agent that ran with enable-tcx=false
			// would run in addition to the links.
			return AttachTCX, d.removeTCFilters(ifindex)
		}
	}

	if err := d.attachTC(ifindex); err != nil {
		return "", fmt.Errorf("attach datapath to %s: %w", dev, err)
	}
	for _, h := range hooks {
		d.dropTCXLink(dev, h, a)
	}
	a.mode = AttachTC
	d.attached[dev] = a
	return AttachTC, nil
}

func (d *Datapath) attachTCX(dev string, a *attachment) error {
	for _, h := range hooks {
		if l := a.links[h.name]; l != nil {
			if err := l.Update(h.program(d)); err == nil {
				continue
			}
			d.dropTCXLink(dev, h, a)
		}
		pin := d.linkPin(dev, h)
		if l, err := link.LoadPinnedLink(pin, nil); err == nil {
			info, ierr := l.Info()
			if ierr == nil && info.TCX() != nil && int(info.TCX().Ifindex) == a.ifindex &&
				ebpf.AttachType(info.TCX().AttachType) == h.tcx {
				if err := l.Update(h.program(d)); err != nil {
					l.Close()
					return fmt.Errorf("update program of pinned link %s: %w", pin, err)
				}
				a.links[h.name] = l
				continue
			}
			l.Unpin()
			l.Close()
		} else if !errors.Is(err, os.ErrNotExist) {
			os.Remove(pin)
		}

		l, err := link.AttachTCX(link.TCXOptions{
			Interface: a.ifindex,
			Program:   h.program(d),
			Attach:    h.tcx,
		})
		if err != nil {
			return fmt.Errorf("attach %s to %s with TCX: %w", h.name, dev, err)
		}
		if err := os.MkdirAll(filepath.Dir(pin), 0o700); err != nil {
			l.Close()
			return fmt.Errorf("pin %s link of %s: %w", h.name, dev, err)
		}
		if err := l.Pin(pin); err != nil {
			l.Close()
			return fmt.Errorf("pin %s link of %s: %w", h.name, dev, err)
		}
		a.links[h.name] = l
	}
	return nil
}

// dropTCXLink detaches and unpins dev's link for h, held or pinned.
func (d *Datapath) dropTCXLink(dev string, h hook, a *attachment) {
	if l := a.links[h.name]; l != nil {
		l.Unpin()
		l.Close()
		delete(a.links, h.name)
	}
	if l, err := link.LoadPinnedLink(d.linkPin(dev, h), nil); err == nil {
		l.Unpin()
		l.Close()
	}
	// Empty once both of the device's links are gone.
	os.Remove(filepath.Dir(d.linkPin(dev, h)))
}

func clsact(ifindex int) *netlink.GenericQdisc {
	return &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{
			LinkIndex: ifindex,
			Handle:    netlink.MakeHandle(0xffff, 0),
			Parent:    netlink.HANDLE_CLSACT,
		},
		QdiscType: "clsact",
	}
}

func tcFilter(ifindex int, h hook, prog *ebpf.Program) *netlink.BpfFilter {
	f := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: ifindex,
			Parent:    h.tcPar,
			Handle:    tcHandle,
			Priority:  tcPriority,
			Protocol:  unix.ETH_P_ALL,
		},
		Name:         "hivenet-" + h.name,
		DirectAction: true,
	}
	if prog != nil {
		f.Fd = prog.FD()
	}
	return f
}

func (d *Datapath) attachTC(ifindex int) error {
	if err := netlink.QdiscReplace(clsact(ifindex)); err != nil {
		return fmt.Errorf("add clsact qdisc: %w", err)
	}
	for _, h := range hooks {
		// Replace swaps the program of an existing filter atomically.
		if err := netlink.FilterReplace(tcFilter(ifindex, h, h.program(d))); err != nil {
			return fmt.Errorf("add cls_bpf filter for %s: %w", h.name, err)
		}
	}
	return nil
}

// tcFiltersOf returns the datapath's filters on ifindex, by hook name.
func tcFiltersOf(ifindex int) (map[string]*netlink.BpfFilter, error) {
	nl, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return nil, err
	}
	found := map[string]*netlink.BpfFilter{}
	for _, h := range hooks {
		filters, err := netlink.FilterList(nl, h.tcPar)
		if err != nil {
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
				continue // no clsact qdisc
			}
			return nil, fmt.Errorf("list tc filters: %w", err)
		}
		for _, f := range filters {
			bf, ok := f.(*netlink.BpfFilter)
			if ok && bf.Priority == tcPriority && bf.Handle == tcHandle && bf.Name == "hivenet-"+h.name {
				found[h.name] = bf
			}
		}
	}
	return found, nil
}

func (d *Datapath) removeTCFilters(ifindex int) error {
	found, err := tcFiltersOf(ifindex)
	if err != nil {
		return err
	}
	for _, f := range found {
		if err := netlink.FilterDel(f); err != nil {
			return fmt.Errorf("remove tc filter %s: %w", f.Name, err)
		}
	}
	return nil
}

// Detach removes the datapath's programs from the device named dev in
// the calling thread's network namespace, however they were attached.
// It returns ErrNotAttached when dev had none of them.
func (d *Datapath) Detach(dev string) error {
	d.mu.Lock()
	defer d.mu.Unlock()

	removed := false
	a := d.attached[dev]
	if a == nil {
		a = &attachment{links: map[string]link.Link{}}
	}
	for _, h := range hooks {
		if a.links[h.name] != nil {
			removed = true
		} else if _, err := os.Stat(d.linkPin(dev, h)); err == nil {
			removed = true
		}
		d.dropTCXLink(dev, h, a)
	}
	delete(d.attached, dev)

	if nl, err := netlink.LinkByName(dev); err == nil {
		found, err := tcFiltersOf(nl.Attrs().Index)
		if err != nil {
			return fmt.Errorf("detach datapath from %s: %w", dev, err)
		}
		for _, f := range found {
			if err := netlink.FilterDel(f); err != nil {
				return fmt.Errorf("detach datapath from %s: remove tc filter: %w", dev, err)
			}
			removed = true
		}
	}
	if !removed {
		return fmt.Errorf("detach from %s: %w", dev, ErrNotAttached)
	}
	return nil
}

// Attached returns the devices d's programs are attached to and how.
func (d *Datapath) Attached() map[string]AttachMode {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]AttachMode, len(d.attached))
	for dev, a := range d.attached {
		out[dev] = a.mode
	}
	return out
}
