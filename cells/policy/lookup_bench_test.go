package policy

import (
	"fmt"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/hivenet/hivenet/reconcilers/bpfmap"
)

// lookupProg is the datapath's policy lookup on its own: the two longest
// prefix lookups of a packet (the peer's identity, then identity 0) in an
// endpoint's policy map, as an XDP program run with BPF_PROG_TEST_RUN.
func lookupProg(b *testing.B, m *ebpf.Map, identity uint32) *ebpf.Program {
	b.Helper()
	key := NewBPFKey(MapKey{Identity: identity, Direction: Ingress, Proto: ProtoTCP, Port: 80, PortBits: 16})
	tail := int32(uint32(key.Egress) | uint32(key.Proto)<<8 | uint32(key.DPort)<<16)
	lookup := func() asm.Instructions {
		ld := asm.LoadMapPtr(asm.R1, 0)
		if err := ld.AssociateMap(m); err != nil {
			b.Fatal(err)
		}
		return asm.Instructions{
			ld,
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -16),
			asm.FnMapLookupElem.Call(),
		}
	}
	ins := asm.Instructions{
		asm.StoreImm(asm.RFP, -16, int64(key.Prefixlen), asm.Word),
		asm.StoreImm(asm.RFP, -12, int64(identity), asm.Word),
		asm.StoreImm(asm.RFP, -8, int64(tail), asm.Word),
	}
	ins = append(ins, lookup()...)
	ins = append(ins, asm.StoreImm(asm.RFP, -12, 0, asm.Word))
	ins = append(ins, lookup()...)
	ins = append(ins, asm.Mov.Imm(asm.R0, 2), asm.Return())
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{Type: ebpf.XDP, Instructions: ins, License: "GPL"})
	if err != nil {
		b.Fatalf("load lookup program (needs root and BPF): %v", err)
	}
	return p
}

// BenchmarkPolicyLookup is the per-packet policy cost with 1, 1k and 10k
// entries in the endpoint's map: it must stay flat (an LPM trie lookup is
// bounded by the key length, not the entry count).
func BenchmarkPolicyLookup(b *testing.B) {
	for _, n := range []int{1, 1000, 10000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			m, err := bpfmap.New[BPFKey, BPFValue](bpfmap.Spec{Name: "hvpo_pol_bench", Type: ebpf.LPMTrie, MaxEntries: MapMaxEntries}, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := m.Open(); err != nil {
				b.Fatalf("create policy map (needs root and BPF): %v", err)
			}
			defer m.Close()
			// Entries for n identities, on a few ports each, as a policy
			// allowing many peers writes them; the looked-up one is last.
			for i := range n {
				k := MapKey{Identity: uint32(256 + i), Direction: Ingress, Proto: ProtoTCP, Port: uint16(80 + i%4*1000), PortBits: 16}
				if err := m.Update(NewBPFKey(k), BPFValue{}); err != nil {
					b.Fatal(err)
				}
			}
			if err := m.Update(NewBPFKey(MapKey{Direction: Egress}), BPFValue{}); err != nil {
				b.Fatal(err)
			}
			prog := lookupProg(b, m.EBPF(), uint32(256+n-1))
			defer prog.Close()
			pkt := make([]byte, 64)
			const repeat = 100000
			var total time.Duration
			runs := 0
			for b.Loop() {
				ret, d, err := prog.Benchmark(pkt, repeat, nil)
				if err != nil || ret != 2 {
					b.Fatalf("test run: ret %d err %v", ret, err)
				}
				total += d
				runs++
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(runs), "ns/pkt")
		})
	}
}
