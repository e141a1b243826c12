package netlink

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"net/netip"
	"sync"

	vnl "github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/hivenet/hivenet/reconcilers"
)

// RouteProtocol is the rtnetlink protocol number on every route hivenet
// installs. 211 is unassigned in iproute2's rt_protos and not used by the
// common routing daemons (bird 12, zebra 11, bgp 186 ... eigrp 192); `ip
// route show proto 211` lists exactly hivenet's routes.
const RouteProtocol vnl.RouteProtocol = 211

// ErrForeignRoute is returned by an update whose destination is taken, in
// the same table and with the same priority, by a route hivenet did not
// install. It is left alone; remove it or choose another table.
var ErrForeignRoute = errors.New("route owned by another protocol")

// Route is a desired route. The routing table is the RouteOps's.
type Route struct {
	Dst netip.Prefix
	// Gw is the next hop; invalid for a directly connected route.
	Gw netip.Addr
	// Src is the preferred source address; optional.
	Src netip.Addr
	// Device is the outgoing link's name; optional with a gateway.
	Device string
	// Type is unix.RTN_*; zero means unicast.
	Type int
	// Scope is unix.RT_SCOPE_*; zero means universe.
	Scope    uint8
	Priority int
	MTU      int
}

func (r Route) String() string {
	s := r.Dst.String()
	if r.Gw.IsValid() {
		s += " via " + r.Gw.String()
	}
	if r.Device != "" {
		s += " dev " + r.Device
	}
	if r.Priority != 0 {
		s += fmt.Sprintf(" metric %d", r.Priority)
	}
	return s
}

// routeKey is what identifies a route in a table for the kernel.
type routeKey struct {
	dst      netip.Prefix
	priority int
}

// ip6DefaultMetric is the priority the kernel gives an IPv6 route added
// with none (IP6_RT_PRIO_USER); it reads back with this value.
const ip6DefaultMetric = 1024

func (r Route) key() routeKey {
	prio := r.Priority
	if prio == 0 && r.Dst.Addr().Is6() {
		prio = ip6DefaultMetric
	}
	return routeKey{dst: r.Dst.Masked(), priority: prio}
}

// RouteOps reconciles objects of type T into one routing table of one
// network namespace. It implements reconcilers.Operations.
type RouteOps[T any] struct {
	h       *vnl.Handle
	table   int
	routeOf func(T) Route

	// ours caches which destinations in the table hold a hivenet route,
	// filled by one dump on first use and refreshed by every prune, so an
	// update does not dump the table to check ownership: O(1) netlink
	// requests per route instead of O(table size), also after a restart.
	mu     sync.Mutex
	ours   map[routeKey]struct{}
	loaded bool
}

var _ reconcilers.Operations[Route] = (*RouteOps[Route])(nil)

// NewRouteOps returns Operations installing routeOf(obj) into table through
// h. Use a table of hivenet's own where possible; in a shared table the
// ownership rules of the package still keep other routes safe.
func NewRouteOps[T any](h *vnl.Handle, table int, routeOf func(T) Route) *RouteOps[T] {
	return &RouteOps[T]{h: h, table: table, routeOf: routeOf}
}

func ipNet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func family(p netip.Prefix) int {
	if p.Addr().Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func (o *RouteOps[T]) kernelRoute(r Route) (*vnl.Route, error) {
	if !r.Dst.IsValid() {
		return nil, fmt.Errorf("route %s: invalid destination", r)
	}
	kr := &vnl.Route{
		Dst:      ipNet(r.Dst),
		Table:    o.table,
		Protocol: RouteProtocol,
		Priority: r.Priority,
		Type:     r.Type,
		Scope:    vnl.Scope(r.Scope),
		MTU:      r.MTU,
		Family:   family(r.Dst),
	}
	if kr.Type == 0 {
		kr.Type = unix.RTN_UNICAST
	}
	if r.Gw.IsValid() {
		kr.Gw = r.Gw.AsSlice()
	}
	if r.Src.IsValid() {
		kr.Src = r.Src.AsSlice()
	}
	if r.Device != "" {
		link, err := o.h.LinkByName(r.Device)
		if err != nil {
			return nil, fmt.Errorf("route %s: device %q: %w", r, r.Device, err)
		}
		kr.LinkIndex = link.Attrs().Index
	}
	return kr, nil
}

// listTable returns the routes of the table, of both families.
func (o *RouteOps[T]) listTable() ([]vnl.Route, error) {
	return retryDump(func() ([]vnl.Route, error) {
		return o.h.RouteListFiltered(unix.AF_UNSPEC, &vnl.Route{Table: o.table}, vnl.RT_FILTER_TABLE)
	})
}

func keyOf(kr *vnl.Route) routeKey {
	var dst netip.Prefix
	if kr.Dst != nil {
		addr, _ := netip.AddrFromSlice(kr.Dst.IP)
		ones, _ := kr.Dst.Mask.Size()
		dst = netip.PrefixFrom(addr.Unmap(), ones)
	} else if kr.Family == unix.AF_INET6 {
		dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	} else {
		dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	return routeKey{dst: dst, priority: kr.Priority}
}

// Update installs the object's route, replacing hivenet's previous route to
// the same destination and priority. It fails with [ErrForeignRoute] if that
// slot belongs to a route another protocol installed.
//
// A slot hivenet holds is replaced; any other is created exclusively, so a
// foreign route that appeared since the last look is never overwritten, and
// only then is the table listed to say whose it is.
func (o *RouteOps[T]) Update(_ context.Context, obj T) error {
	r := o.routeOf(obj)
	kr, err := o.kernelRoute(r)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.load(); err != nil {
		return fmt.Errorf("route %s: %w", r, err)
	}
	key := r.key()
	if _, ok := o.ours[key]; ok {
		if err := o.h.RouteReplace(kr); err != nil {
			return fmt.Errorf("route %s in table %d: replace: %w", r, o.table, err)
		}
		return nil
	}
	err = o.h.RouteAdd(kr)
	if err == nil {
		o.ours[key] = struct{}{}
		return nil
	}
	if !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("route %s in table %d: add: %w", r, o.table, err)
	}
	existing, err := retryDump(func() ([]vnl.Route, error) {
		return o.h.RouteListFiltered(kr.Family, &vnl.Route{Table: o.table, Dst: kr.Dst},
			vnl.RT_FILTER_TABLE|vnl.RT_FILTER_DST)
	})
	if err != nil {
		return fmt.Errorf("route %s: list table %d: %w", r, o.table, err)
	}
	for i := range existing {
		if keyOf(&existing[i]) == key && existing[i].Protocol != RouteProtocol {
			return fmt.Errorf("route %s in table %d: installed with protocol %s: %w",
				r, o.table, existing[i].Protocol, ErrForeignRoute)
		}
	}
	if err := o.h.RouteReplace(kr); err != nil {
		return fmt.Errorf("route %s in table %d: replace: %w", r, o.table, err)
	}
	o.ours[key] = struct{}{}
	return nil
}

// load fills the cache of hivenet's routes on first use.
func (o *RouteOps[T]) load() error {
	if o.loaded {
		return nil
	}
	routes, err := o.listTable()
	if err != nil {
		return fmt.Errorf("list table %d: %w", o.table, err)
	}
	o.ours = map[routeKey]struct{}{}
	for i := range routes {
		if routes[i].Protocol == RouteProtocol {
			o.ours[keyOf(&routes[i])] = struct{}{}
		}
	}
	o.loaded = true
	return nil
}

// Delete removes the object's route if hivenet installed it. The kernel
// matches the protocol, so a foreign route to the same destination stays.
func (o *RouteOps[T]) Delete(_ context.Context, obj T) error {
	r := o.routeOf(obj)
	if !r.Dst.IsValid() {
		return nil
	}
	kr := &vnl.Route{
		Dst:      ipNet(r.Dst),
		Table:    o.table,
		Protocol: RouteProtocol,
		Priority: r.Priority,
		Family:   family(r.Dst),
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.load(); err != nil {
		return fmt.Errorf("route %s: %w", r, err)
	}
	// Only delete what is known to be there: asked for a priority that has
	// no route, the kernel deletes the next one of the same destination
	// and protocol, which another object may want.
	key := r.key()
	if _, ok := o.ours[key]; !ok {
		return nil
	}
	if err := o.h.RouteDel(kr); err != nil && !isNotFound(err) {
		return fmt.Errorf("route %s in table %d: delete: %w", r, o.table, err)
	}
	delete(o.ours, key)
	return nil
}

// Prune removes hivenet's routes in the table that no object asks for.
// Routes of other protocols are never looked at.
func (o *RouteOps[T]) Prune(_ context.Context, objects iter.Seq[T]) error {
	wanted := map[routeKey]struct{}{}
	for obj := range objects {
		r := o.routeOf(obj)
		if r.Dst.IsValid() {
			wanted[r.key()] = struct{}{}
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	routes, err := o.listTable()
	if err != nil {
		return fmt.Errorf("prune routes: list table %d: %w", o.table, err)
	}
	var errs []error
	ours := map[routeKey]struct{}{}
	for i := range routes {
		kr := &routes[i]
		if kr.Protocol != RouteProtocol {
			continue
		}
		key := keyOf(kr)
		if _, ok := wanted[key]; ok {
			ours[key] = struct{}{}
			continue
		}
		if err := o.h.RouteDel(kr); err != nil && !isNotFound(err) {
			ours[key] = struct{}{}
			errs = append(errs, fmt.Errorf("delete stale route %s: %w", kr, err))
		}
	}
	o.ours, o.loaded = ours, true
	return errors.Join(errs...)
}

// isNotFound reports whether a delete failed only because the object was
// already gone.
func isNotFound(err error) bool {
	return errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EADDRNOTAVAIL)
}
