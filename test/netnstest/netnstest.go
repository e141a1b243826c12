// Package netnstest holds what tests need to send real traffic between
// network namespaces: running code inside a namespace, and TCP listeners,
// dialers and an echo server whose sockets live there.
package netnstest

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// InNetns runs f on an OS thread that entered the named namespace. Sockets
// created by f stay in that namespace and may be used from any goroutine.
// The test fails if the namespace cannot be entered or f fails.
func InNetns(t testing.TB, name string, f func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread stays locked and exits with the goroutine instead of
		// going back to the pool in the wrong namespace.
		ns, err := netns.GetFromName(name)
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	if err := <-errc; err != nil {
		t.Fatalf("in netns %s: %v", name, err)
	}
}

// ListenTCP listens on addr inside namespace ns, closed when the test ends.
func ListenTCP(t testing.TB, ns string, addr netip.AddrPort) net.Listener {
	t.Helper()
	var ln net.Listener
	InNetns(t, ns, func() (err error) { ln, err = net.Listen("tcp4", addr.String()); return })
	t.Cleanup(func() { ln.Close() })
	return ln
}

// DialTCP connects to addr from inside namespace ns within 3 seconds.
func DialTCP(t testing.TB, ns string, addr netip.AddrPort) (net.Conn, error) {
	t.Helper()
	var c net.Conn
	var dialErr error
	InNetns(t, ns, func() error {
		c, dialErr = net.DialTimeout("tcp4", addr.String(), 3*time.Second)
		return nil
	})
	return c, dialErr
}

// ServeEcho echoes every connection of ln and reports each peer's address
// (dropping reports nobody reads once 1024 are queued).
func ServeEcho(ln net.Listener) <-chan netip.AddrPort {
	peers := make(chan netip.AddrPort, 1024)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case peers <- netip.MustParseAddrPort(c.RemoteAddr().String()):
			default:
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				for {
					k, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:k]); err != nil {
						return
					}
				}
			}()
		}
	}()
	return peers
}

// RoundTrip writes msg on c and expects it echoed back within 5 seconds.
func RoundTrip(c net.Conn, msg string) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return &mismatchError{got: string(buf), want: msg}
	}
	return nil
}

type mismatchError struct{ got, want string }

func (e *mismatchError) Error() string { return "echo = " + quote(e.got) + ", want " + quote(e.want) }

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return "\"" + s + "\""
}

// Do runs f on an OS thread switched into ns and switches it back after. If
// switching back fails the thread stays locked and dies with its goroutine
// rather than run other goroutines in the wrong namespace.
func Do(ns netns.NsHandle, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("restore netns: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
