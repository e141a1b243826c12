package routing

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/hivenet/hivenet/reconcilers"
	"github.com/hivenet/hivenet/reconcilers/netlink"
)

// peerOps installs a Peer as two kernel objects on the VXLAN device: the
// permanent neighbour entry (router IP -> VTEP MAC, through the generic
// neighbour Operations) and the FDB entry (VTEP MAC -> remote VTEP IP). It
// owns every permanent neighbour and FDB entry of that device, which only
// hivenet creates.
type peerOps struct {
	h      *vnl.Handle
	device string
	neigh  *netlink.NeighborOps[*Peer]
}

var _ reconcilers.Operations[*Peer] = (*peerOps)(nil)

func newPeerOps(h *vnl.Handle, device string) *peerOps {
	return &peerOps{h: h, device: device, neigh: netlink.NewNeighborOps(h, []string{device}, func(p *Peer) netlink.Neighbor {
		return netlink.Neighbor{Device: device, IP: p.IP, MAC: p.MAC}
	})}
}

func (o *peerOps) fdbEntry(p *Peer) (*vnl.Neigh, error) {
	link, err := o.h.LinkByName(o.device)
	if err != nil {
		return nil, fmt.Errorf("FDB entry %s -> %s: %w", p.MAC, p.VTEP, err)
	}
	return &vnl.Neigh{
		LinkIndex:    link.Attrs().Index,
		Family:       unix.AF_BRIDGE,
		State:        unix.NUD_PERMANENT,
		Flags:        vnl.NTF_SELF,
		IP:           p.VTEP.AsSlice(),
		HardwareAddr: p.MAC,
	}, nil
}

// Update sets the FDB entry first, so that the neighbour entry never
// points at a MAC the device cannot send anywhere.
func (o *peerOps) Update(ctx context.Context, p *Peer) error {
	e, err := o.fdbEntry(p)
	if err != nil {
		return err
	}
	if err := o.h.NeighSet(e); err != nil {
		return fmt.Errorf("FDB entry %s -> %s on %s: %w", p.MAC, p.VTEP, o.device, err)
	}
	return o.neigh.Update(ctx, p)
}

// Delete removes both entries; what is already gone is fine.
func (o *peerOps) Delete(ctx context.Context, p *Peer) error {
	if err := o.neigh.Delete(ctx, p); err != nil {
		return err
	}
	e, err := o.fdbEntry(p)
	var notFound vnl.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := o.h.NeighDel(e); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete FDB entry %s on %s: %w", p.MAC, o.device, err)
	}
	return nil
}

// Prune removes the neighbour and FDB entries of the device no peer asks for.
func (o *peerOps) Prune(ctx context.Context, peers iter.Seq[*Peer]) error {
	nerr := o.neigh.Prune(ctx, peers)
	wanted := map[string]string{}
	for p := range peers {
		wanted[p.MAC.String()] = p.VTEP.String()
	}
	link, err := o.h.LinkByName(o.device)
	if err != nil {
		var notFound vnl.LinkNotFoundError
		if errors.As(err, &notFound) {
			return nerr
		}
		return errors.Join(nerr, err)
	}
	entries, err := o.h.NeighList(link.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		return errors.Join(nerr, fmt.Errorf("list FDB of %s: %w", o.device, err))
	}
	var errs []error
	for i := range entries {
		e := &entries[i]
		if e.State&unix.NUD_PERMANENT == 0 || e.HardwareAddr == nil {
			continue
		}
		if vtep, ok := wanted[e.HardwareAddr.String()]; ok && net.IP(e.IP).String() == vtep {
			continue
		}
		if err := o.h.NeighDel(e); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("delete stale FDB entry %s on %s: %w", e.HardwareAddr, o.device, err))
		}
	}
	return errors.Join(append(errs, nerr)...)
}
