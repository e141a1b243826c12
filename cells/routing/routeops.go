package routing

import (
	"context"
	"errors"
	"fmt"
	"net"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/hivenet/hivenet/reconcilers/netlink"
)

// routeOps is netlink.RouteOps with a Delete that also removes routes of a
// narrower scope than universe: the generic Delete asks the kernel for a
// universe-scope route, which does not match the link-scope host routes to
// remote routers in tunnel mode, and the "not found" that follows reads as
// success, so the route would linger until the next prune.
type routeOps struct {
	*netlink.RouteOps[*Route]
	h     *vnl.Handle
	table int
}

func newRouteOps(h *vnl.Handle, table int) *routeOps {
	return &routeOps{
		RouteOps: netlink.NewRouteOps(h, table, func(r *Route) netlink.Route { return r.Route }),
		h:        h,
		table:    table,
	}
}

func (o *routeOps) Delete(ctx context.Context, r *Route) error {
	if r.Route.Scope == 0 || !r.Route.Dst.IsValid() {
		return o.RouteOps.Delete(ctx, r)
	}
	dst := r.Route.Dst.Masked()
	kr := &vnl.Route{
		Dst:      &net.IPNet{IP: dst.Addr().AsSlice(), Mask: net.CIDRMask(dst.Bits(), dst.Addr().BitLen())},
		Table:    o.table,
		Protocol: netlink.RouteProtocol,
		Priority: r.Route.Priority,
		Scope:    vnl.Scope(r.Route.Scope),
		Family:   unix.AF_INET,
	}
	if dst.Addr().Is6() {
		kr.Family = unix.AF_INET6
	}
	if err := o.h.RouteDel(kr); err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("route %s in table %d: delete: %w", r.Route, o.table, err)
	}
	return nil
}
