package netlink

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/netip"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/hivenet/hivenet/reconcilers"
)

// Addr is a desired interface address.
type Addr struct {
	Device string
	// Prefix is the address and the length of its subnet, 10.0.0.1/24.
	Prefix netip.Prefix
	// Scope is unix.RT_SCOPE_*; zero means universe.
	Scope uint8
}

func (a Addr) String() string { return a.Prefix.String() + " dev " + a.Device }

type addrKey struct {
	device string
	prefix netip.Prefix
}

// AddrOps reconciles objects of type T into addresses on the links it owns.
// It implements reconcilers.Operations.
type AddrOps[T any] struct {
	h      *vnl.Handle
	links  ownedLinks
	addrOf func(T) Addr
}

var _ reconcilers.Operations[Addr] = (*AddrOps[Addr])(nil)

// NewAddrOps returns Operations installing addrOf(obj) through h. links
// names the devices it owns: it refuses to touch others and prunes only
// there.
func NewAddrOps[T any](h *vnl.Handle, links []string, addrOf func(T) Addr) *AddrOps[T] {
	return &AddrOps[T]{h: h, links: ownedLinks(links), addrOf: addrOf}
}

func (o *AddrOps[T]) resolve(a Addr) (vnl.Link, *vnl.Addr, error) {
	if err := o.links.check("address "+a.Prefix.String(), a.Device); err != nil {
		return nil, nil, err
	}
	if !a.Prefix.IsValid() {
		return nil, nil, fmt.Errorf("address on %s: invalid prefix", a.Device)
	}
	link, err := o.h.LinkByName(a.Device)
	if err != nil {
		return nil, nil, fmt.Errorf("address %s: %w", a, err)
	}
	p := a.Prefix
	ka := &vnl.Addr{
		IPNet: ipNet(netip.PrefixFrom(p.Addr(), p.Addr().BitLen())),
		Scope: int(a.Scope),
	}
	ka.Mask = ipNet(p).Mask
	return link, ka, nil
}

// Update adds the object's address, or updates its attributes.
func (o *AddrOps[T]) Update(_ context.Context, obj T) error {
	a := o.addrOf(obj)
	link, ka, err := o.resolve(a)
	if err != nil {
		return err
	}
	if err := o.h.AddrReplace(link, ka); err != nil {
		return fmt.Errorf("address %s: replace: %w", a, err)
	}
	return nil
}

// Delete removes the object's address; a missing address or link is fine.
func (o *AddrOps[T]) Delete(_ context.Context, obj T) error {
	a := o.addrOf(obj)
	link, ka, err := o.resolve(a)
	var notFound vnl.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := o.h.AddrDel(link, ka); err != nil && !isNotFound(err) {
		return fmt.Errorf("address %s: delete: %w", a, err)
	}
	return nil
}

// Prune removes addresses on the owned links that no object asks for,
// except IPv6 link-local addresses, which the kernel manages.
func (o *AddrOps[T]) Prune(_ context.Context, objects iter.Seq[T]) error {
	wanted := map[addrKey]struct{}{}
	for obj := range objects {
		a := o.addrOf(obj)
		wanted[addrKey{a.Device, a.Prefix}] = struct{}{}
	}
	var errs []error
	err := o.links.each(o.h, func(link vnl.Link) error {
		addrs, err := retryDump(func() ([]vnl.Addr, error) { return o.h.AddrList(link, unix.AF_UNSPEC) })
		if err != nil {
			return fmt.Errorf("list addresses of %s: %w", link.Attrs().Name, err)
		}
		for i := range addrs {
			ka := &addrs[i]
			ip, _ := netip.AddrFromSlice(ka.IP)
			ip = ip.Unmap()
			if ip.Is6() && ip.IsLinkLocalUnicast() {
				continue
			}
			ones, _ := ka.Mask.Size()
			if _, ok := wanted[addrKey{link.Attrs().Name, netip.PrefixFrom(ip, ones)}]; ok {
				continue
			}
			if err := o.h.AddrDel(link, ka); err != nil && !isNotFound(err) {
				errs = append(errs, fmt.Errorf("delete stale address %s on %s: %w", ka.IPNet, link.Attrs().Name, err))
			}
		}
		return nil
	})
	return errors.Join(append(errs, err)...)
}
