package netlink

import (
	"errors"
	"fmt"
	"slices"

	vnl "github.com/vishvananda/netlink"
)

// ownedLinks is the set of link names an address or neighbour Ops may
// change; anything on other links is someone else's.
type ownedLinks []string

func (l ownedLinks) check(kind, device string) error {
	if !slices.Contains(l, device) {
		return fmt.Errorf("%s on %q: not one of the links this reconciler owns %v", kind, device, []string(l))
	}
	return nil
}

// each calls fn for every owned link that exists; missing links have
// nothing to prune.
func (l ownedLinks) each(h *vnl.Handle, fn func(vnl.Link) error) error {
	for _, name := range l {
		link, err := h.LinkByName(name)
		if err != nil {
			var notFound vnl.LinkNotFoundError
			if errors.As(err, &notFound) {
				continue
			}
			return fmt.Errorf("link %q: %w", name, err)
		}
		if err := fn(link); err != nil {
			return err
		}
	}
	return nil
}
