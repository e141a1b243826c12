package bpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestDecodeFlow(t *testing.T) {
	src := netip.MustParseAddrPort("10.0.0.1:51944")
	dst := netip.MustParseAddrPort("10.0.0.2:80")
	ev := FlowEvent{
		TsNs:        uint64(3 * time.Second),
		Saddr:       be32(src.Addr()),
		Daddr:       be32(dst.Addr()),
		Sport:       be16(src.Port()),
		Dport:       be16(dst.Port()),
		Ifindex:     7,
		SrcIdentity: 4605,
		DstIdentity: 22656,
		Len:         74,
		SrcEpId:     11,
		DstEpId:     12,
		Proto:       ProtoTCP,
		TcpFlags:    uint8(TCPSyn),
		Verdict:     uint8(VerdictForwarded),
		ObsPoint:    uint8(ObsToEndpoint),
		Direction:   uint8(DirectionIngress),
		CtStatus:    uint8(CTNew),
		Reason:      uint8(ReasonNew),
	}
	rec, err := binary.Append(nil, binary.LittleEndian, &ev)
	must(t, err)
	if len(rec) != FlowEventSize {
		t.Fatalf("encoded %d bytes, FlowEventSize %d", len(rec), FlowEventSize)
	}
	f, err := DecodeFlow(rec, time.Duration(time.Date(2026, 11, 22, 10, 45, 44, 0, time.UTC).UnixNano()))
	must(t, err)
	if f.Src != src || f.Dst != dst || f.SrcIdentity != 4605 || f.DstEndpoint != 12 || f.IfIndex != 7 || f.Len != 74 {
		t.Errorf("decoded %+v", f)
	}
	if got, want := f.Time.UTC(), time.Date(2026, 11, 22, 10, 45, 47, 0, time.UTC); !got.Equal(want) {
		t.Errorf("time %s, want %s", got, want)
	}
	if got, want := f.String(), "10.0.0.1:51944 (ID:4605) -> 10.0.0.2:80 (ID:22656) to-endpoint FORWARDED (TCP Flags: SYN)"; got != want {
		t.Errorf("String\n got %q\nwant %q", got, want)
	}

	if _, err := DecodeFlow(rec[:10], 0); !errors.Is(err, ErrBadFlow) {
		t.Errorf("short record: %v, want ErrBadFlow", err)
	}
}

func TestConfigValidate(t *testing.T) {
	must(t, DefaultConfig.Validate())
	for _, tc := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.BPFRoot = "" }, "bpf-root"},
		{func(c *Config) { c.CTGlobalTCPMax = 10 }, "bpf-ct-global-tcp-max=10"},
		{func(c *Config) { c.CTGlobalAnyMax = 1 << 25 }, "bpf-ct-global-any-max"},
		{func(c *Config) { c.MonitorAggregation = "most" }, `monitor-aggregation "most"`},
		{func(c *Config) { c.MonitorAggregationInterval = -time.Second }, "monitor-aggregation-interval"},
		{func(c *Config) { c.EventsRingBufferSize = 5000 }, "bpf-events-ringbuf-size=5000"},
	} {
		c := DefaultConfig
		tc.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want an error naming %q", err, tc.want)
		}
	}
}

func TestCTRecordString(t *testing.T) {
	r := CTRecord{
		Key: NewCTKey(netip.MustParseAddrPort("10.0.0.1:41000"), netip.MustParseAddrPort("10.0.0.2:80"), ProtoTCP, TupleIn),
		Entry: CTEntry{Lifetime: 17224, Packets: 4, Bytes: 296, Flags: CTSeenNonSyn | CTTxClosing,
			TxFlagsSeen: 0x13, RxFlagsSeen: 0x12, SrcSecId: 4605, Ifindex: 5},
		Remaining: 8,
	}
	want := "TCP IN 10.0.0.1:41000 -> 10.0.0.2:80 expires=17224 (remaining: 8 sec(s)) Packets=4 Bytes=296 RxFlagsSeen=0x12 LastRxReport=0 TxFlagsSeen=0x13 LastTxReport=0 Flags=0x0012 [ TxClosing SeenNonSyn ] RevNAT=0 SourceSecurityID=4605 IfIndex=5 BackendID=0"
	if got := r.String(); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

func ExampleFlow_String() {
	f := Flow{
		Src:         netip.MustParseAddrPort("10.0.0.1:51944"),
		Dst:         netip.MustParseAddrPort("10.0.0.2:80"),
		Proto:       ProtoTCP,
		TCP:         TCPSyn | TCPAck,
		SrcIdentity: 22656,
		DstIdentity: 4605,
		Verdict:     VerdictForwarded,
		Point:       ObsFromEndpoint,
	}
	fmt.Println(f)
	f.Verdict, f.DropReason = VerdictDropped, DropPolicy
	fmt.Println(f)
	// Output:
	// 10.0.0.1:51944 (ID:22656) -> 10.0.0.2:80 (ID:4605) from-endpoint FORWARDED (TCP Flags: SYN, ACK)
	// 10.0.0.1:51944 (ID:22656) -> 10.0.0.2:80 (ID:4605) from-endpoint DROPPED (Policy denied) (TCP Flags: SYN, ACK)
}

func ExampleParseAggregationLevel() {
	for _, s := range []string{"none", "medium", "lowest", "most"} {
		l, err := ParseAggregationLevel(s)
		fmt.Println(l, err)
	}
	// Output:
	// none <nil>
	// medium <nil>
	// none <nil>
	// none monitor-aggregation "most": must be one of none, low, medium, maximum
}
