package netlink

import (
	"errors"
	"fmt"

	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// NewHandle returns a netlink handle whose requests act in the network
// namespace at nsPath (for instance /var/run/netns/<name>), or in the
// caller's namespace when nsPath is empty. Close it when done.
func NewHandle(nsPath string) (*vnl.Handle, error) {
	if nsPath == "" {
		h, err := vnl.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("netlink handle: %w", err)
		}
		return h, nil
	}
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer ns.Close()
	h, err := vnl.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", nsPath, err)
	}
	return h, nil
}

// dumpRetries bounds how often a dump interrupted by concurrent changes is
// restarted before its partial result is used.
const dumpRetries = 5

// retryDump repeats a netlink dump the kernel interrupted because the
// table changed under it; a partial dump could make prune miss an entry.
func retryDump[T any](dump func() (T, error)) (T, error) {
	var (
		res T
		err error
	)
	for range dumpRetries {
		res, err = dump()
		if !errors.Is(err, vnl.ErrDumpInterrupted) {
			return res, err
		}
	}
	return res, err
}
