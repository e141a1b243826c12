package bpf

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// flowLog collects the flow events of a reader in the background.
type flowLog struct {
	mu    sync.Mutex
	flows []Flow
	errs  []error
	added chan struct{}
}

func collectFlows(tb testing.TB, d *Datapath) *flowLog {
	fr, err := d.Flows()
	must(tb, err)
	l := &flowLog{added: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for f, err := range fr.All() {
			l.mu.Lock()
			if err != nil {
				l.errs = append(l.errs, err)
			} else {
				l.flows = append(l.flows, f)
			}
			l.mu.Unlock()
			select {
			case l.added <- struct{}{}:
			default:
			}
		}
	}()
	tb.Cleanup(func() {
		fr.Close()
		<-done
		if len(l.errs) > 0 {
			tb.Errorf("flow reader errors: %v", l.errs)
		}
	})
	return l
}

func (l *flowLog) snapshot() []Flow {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Flow(nil), l.flows...)
}

// wait returns the first flow matching pred, failing the test if none
// arrives within the deadline.
func (l *flowLog) wait(tb testing.TB, what string, pred func(Flow) bool) Flow {
	tb.Helper()
	deadline := time.After(5 * time.Second)
	for {
		for _, f := range l.snapshot() {
			if pred(f) {
				return f
			}
		}
		select {
		case <-l.added:
		case <-deadline:
			var lines []string
			for _, f := range l.snapshot() {
				lines = append(lines, fmt.Sprintf("  %s [%s %s if=%d ep=%d->%d]", f, f.Reason, f.CTStatus, f.IfIndex, f.SrcEndpoint, f.DstEndpoint))
			}
			tb.Fatalf("no flow event %s within 5s; got:\n%s", what, strings.Join(lines, "\n"))
		}
	}
}

// count returns how many flows match pred once no new flow has arrived
// for quiet.
func (l *flowLog) countSettled(pred func(Flow) bool, quiet time.Duration) int {
	for {
		select {
		case <-l.added:
			continue
		case <-time.After(quiet):
		}
		n := 0
		for _, f := range l.snapshot() {
			if pred(f) {
				n++
			}
		}
		return n
	}
}

// serveEcho echoes every TCP connection of l until l is closed.
func serveEcho(l net.Listener) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
}

// serveUDPEcho echoes every datagram of c until c is closed.
func serveUDPEcho(c net.PacketConn) {
	go func() {
		buf := make([]byte, 2048)
		for {
			n, addr, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			c.WriteTo(buf[:n], addr)
		}
	}()
}

// tcpExchange connects from p to dst, sends msg, expects it back and
// closes. It returns the client's address.
func tcpExchange(p *testPod, dst netip.AddrPort, msg string) (netip.AddrPort, error) {
	c, err := p.dial("tcp4", dst)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return echoTCP(c, msg)
}

// tcpExchangeFrom is tcpExchange from the calling thread's namespace.
func tcpExchangeFrom(dst netip.AddrPort) (netip.AddrPort, error) {
	c, err := net.Dial("tcp4", dst.String())
	if err != nil {
		return netip.AddrPort{}, err
	}
	return echoTCP(c, "from the node")
}

func echoTCP(c net.Conn, msg string) (netip.AddrPort, error) {
	defer c.Close()
	local := c.LocalAddr().(*net.TCPAddr).AddrPort()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return local, err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return local, fmt.Errorf("read echo: %w", err)
	}
	if string(buf) != msg {
		return local, fmt.Errorf("echo %q, want %q", buf, msg)
	}
	return local, nil
}

// udpExchange sends msg from p to dst and expects it back.
func udpExchange(p *testPod, dst netip.AddrPort, msg string) (netip.AddrPort, error) {
	c, err := p.dial("udp4", dst)
	if err != nil {
		return netip.AddrPort{}, err
	}
	defer c.Close()
	local := c.LocalAddr().(*net.UDPAddr).AddrPort()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return local, err
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return local, fmt.Errorf("read echo: %w", err)
	}
	if string(buf[:n]) != msg {
		return local, fmt.Errorf("echo %q, want %q", buf[:n], msg)
	}
	return local, nil
}

// ping sends one ICMP echo request with identifier id from p to dst and
// waits for the reply.
func ping(tb testing.TB, p *testPod, dst netip.Addr, id uint16) error {
	c := p.listenPacket(tb, "ip4:icmp", p.ip.String())
	defer c.Close()
	req := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'h', 'v', 'd', 'p'}
	csum := icmpChecksum(req)
	req[2], req[3] = byte(csum>>8), byte(csum)
	if _, err := c.WriteTo(req, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("no echo reply from %s", dst)
		}
		if err != nil {
			return err
		}
		if n >= 8 && buf[0] == 0 && from.String() == dst.String() && uint16(buf[4])<<8|uint16(buf[5]) == id {
			return nil
		}
	}
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// findCT returns the conntrack record with the given tuple.
func findCT(tb testing.TB, d *Datapath, key CTKey) (CTRecord, bool) {
	tb.Helper()
	recs, err := d.Conntrack()
	must(tb, err)
	for _, r := range recs {
		if r.Key == key {
			return r, true
		}
	}
	return CTRecord{}, false
}

func dumpCT(tb testing.TB, d *Datapath) string {
	recs, err := d.Conntrack()
	must(tb, err)
	var b strings.Builder
	for _, r := range recs {
		b.WriteString("  " + r.String() + "\n")
	}
	return b.String()
}
