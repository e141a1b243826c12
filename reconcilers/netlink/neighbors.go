package netlink

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/netip"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/hivenet/hivenet/reconcilers"
)

// Neighbor is a desired permanent neighbour (ARP or NDP) entry.
type Neighbor struct {
	Device string
	IP     netip.Addr
	MAC    net.HardwareAddr
}

func (n Neighbor) String() string {
	return n.IP.String() + " lladdr " + n.MAC.String() + " dev " + n.Device
}

type neighKey struct {
	device string
	ip     netip.Addr
}

// NeighborOps reconciles objects of type T into permanent neighbour entries
// on the links it owns. It implements reconcilers.Operations.
type NeighborOps[T any] struct {
	h       *vnl.Handle
	links   ownedLinks
	neighOf func(T) Neighbor
}

var _ reconcilers.Operations[Neighbor] = (*NeighborOps[Neighbor])(nil)

// NewNeighborOps returns Operations installing neighOf(obj) through h.
// links names the devices it owns: it refuses to touch others and prunes
// only there, and only permanent entries.
func NewNeighborOps[T any](h *vnl.Handle, links []string, neighOf func(T) Neighbor) *NeighborOps[T] {
	return &NeighborOps[T]{h: h, links: ownedLinks(links), neighOf: neighOf}
}

func (o *NeighborOps[T]) resolve(n Neighbor) (*vnl.Neigh, error) {
	if err := o.links.check("neighbour "+n.IP.String(), n.Device); err != nil {
		return nil, err
	}
	if !n.IP.IsValid() {
		return nil, fmt.Errorf("neighbour on %s: invalid IP", n.Device)
	}
	link, err := o.h.LinkByName(n.Device)
	if err != nil {
		return nil, fmt.Errorf("neighbour %s: %w", n, err)
	}
	fam := unix.AF_INET6
	if n.IP.Is4() {
		fam = unix.AF_INET
	}
	return &vnl.Neigh{
		LinkIndex:    link.Attrs().Index,
		Family:       fam,
		State:        unix.NUD_PERMANENT,
		IP:           n.IP.AsSlice(),
		HardwareAddr: n.MAC,
	}, nil
}

// Update sets the object's neighbour entry.
func (o *NeighborOps[T]) Update(_ context.Context, obj T) error {
	n := o.neighOf(obj)
	kn, err := o.resolve(n)
	if err != nil {
		return err
	}
	if err := o.h.NeighSet(kn); err != nil {
		return fmt.Errorf("neighbour %s: set: %w", n, err)
	}
	return nil
}

// Delete removes the object's neighbour entry; a missing entry or link is
// fine.
func (o *NeighborOps[T]) Delete(_ context.Context, obj T) error {
	n := o.neighOf(obj)
	kn, err := o.resolve(n)
	var notFound vnl.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := o.h.NeighDel(kn); err != nil && !isNotFound(err) {
		return fmt.Errorf("neighbour %s: delete: %w", n, err)
	}
	return nil
}

// Prune removes permanent neighbour entries on the owned links that no
// object asks for. Entries the kernel learnt are not hivenet's and stay.
func (o *NeighborOps[T]) Prune(_ context.Context, objects iter.Seq[T]) error {
	wanted := map[neighKey]struct{}{}
	for obj := range objects {
		n := o.neighOf(obj)
		wanted[neighKey{n.Device, n.IP}] = struct{}{}
	}
	var errs []error
	err := o.links.each(o.h, func(link vnl.Link) error {
		neighs, err := retryDump(func() ([]vnl.Neigh, error) { return o.h.NeighList(link.Attrs().Index, unix.AF_UNSPEC) })
		if err != nil {
			return fmt.Errorf("list neighbours of %s: %w", link.Attrs().Name, err)
		}
		for i := range neighs {
			kn := &neighs[i]
			if kn.State&unix.NUD_PERMANENT == 0 {
				continue
			}
			ip, _ := netip.AddrFromSlice(kn.IP)
			if _, ok := wanted[neighKey{link.Attrs().Name, ip.Unmap()}]; ok {
				continue
			}
			if err := o.h.NeighDel(kn); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("delete stale neighbour %s on %s: %w", kn.IP, link.Attrs().Name, err))
			}
		}
		return nil
	})
	return errors.Join(append(errs, err)...)
}
