package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/observe/flow"
	"github.com/hivenet/hivenet/statedb"
)

// benchFlows returns n flows between 50 pods of two namespaces; one in
// every 20 is a drop.
func benchFlows(n int) []bpf.Flow {
	out := make([]bpf.Flow, n)
	for i := range out {
		src := netip.AddrFrom4([4]byte{10, 9, 0, byte(i % 50)})
		dst := netip.AddrFrom4([4]byte{10, 9, 0, byte((i + 1) % 50)})
		f := tcpFlow("0.0.0.0:1", "0.0.0.0:1", bpf.TCPSyn, bpf.ObsToEndpoint, bpf.CTNew)
		f.Src, f.Dst = netip.AddrPortFrom(src, uint16(30000+i)), netip.AddrPortFrom(dst, 80)
		if i%20 == 0 {
			f.Verdict, f.DropReason = bpf.VerdictDropped, bpf.DropPolicy
		}
		out[i] = f
	}
	return out
}

// benchObserver returns an observer with an endpoints table of the 50 pods
// of benchFlows.
func benchObserver(b *testing.B, capacity int) *Observer {
	db := statedb.New()
	tbl, err := endpoints.NewTable()
	if err != nil {
		b.Fatal(err)
	}
	if err := db.RegisterTable(tbl); err != nil {
		b.Fatal(err)
	}
	wtxn := db.WriteTxn(tbl)
	for i := range 50 {
		ns := "default"
		if i%2 == 1 {
			ns = "prod"
		}
		tbl.Insert(wtxn, &endpoints.Endpoint{
			ID: uint16(100 + i), Namespace: ns, Pod: fmt.Sprintf("pod-%02d", i), Identity: uint32(10000 + i),
			Labels: map[string]string{"app": fmt.Sprintf("app-%d", i%5)}, IPv4: netip.AddrFrom4([4]byte{10, 9, 0, byte(i)}),
		})
	}
	wtxn.Commit()
	o, err := NewObserver(capacity, db, tbl.ToTable())
	if err != nil {
		b.Fatal(err)
	}
	return o
}

// BenchmarkRingWrite is the ring alone: one writer, records already built.
func BenchmarkRingWrite(b *testing.B) {
	r, _ := NewRing[Record](4095)
	rec := record(synFlow)
	b.ReportAllocs()
	for b.Loop() {
		r.Write(rec)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}

// BenchmarkRingWriteParallel has every core write at once.
func BenchmarkRingWriteParallel(b *testing.B) {
	r, _ := NewRing[Record](4095)
	rec := record(synFlow)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Write(rec)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}

// BenchmarkIngest is what each datapath flow costs the agent: two lookups
// in the endpoints table and a ring write.
func BenchmarkIngest(b *testing.B) {
	o := benchObserver(b, 4095)
	flows := benchFlows(1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		o.Ingest(flows[i&1023])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}

// BenchmarkIngestWithFollowers ingests while two follow streams with a
// filter read along, as `hivenet observe -f` does.
func BenchmarkIngestWithFollowers(b *testing.B) {
	o := benchObserver(b, 4095)
	flows := benchFlows(1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	for range 2 {
		seq, err := o.Query(ctx, flow.Query{Follow: true, Filter: flow.Filter{Namespace: []string{"prod"}}}, nil)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for range seq {
			}
			done <- struct{}{}
		}()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		o.Ingest(flows[i&1023])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
	b.StopTimer()
	cancel()
	<-done
	<-done
}

// BenchmarkQueryLast100 is `hivenet observe --last 100 <filter>` over a
// full ring of 4095 flows, without the JSON: how long the agent scans.
func BenchmarkQueryLast100(b *testing.B) {
	o := benchObserver(b, 4095)
	for _, f := range benchFlows(4095) {
		o.Ingest(f)
	}
	for _, bc := range []struct {
		name   string
		filter flow.Filter
		want   int
	}{
		{"no-filter", flow.Filter{}, 100},
		// Half the flows match: 200 scanned.
		{"from-namespace", flow.Filter{FromPod: []string{"prod/"}}, 100},
		// One in 20 matches: 2000 scanned.
		{"verdict-dropped", flow.Filter{Verdict: []string{"DROPPED"}}, 100},
		// One in 50 matches: the whole ring is scanned and 82 found.
		{"pod-and-port-and-label", flow.Filter{FromPod: []string{"default/pod-04"}, ToPort: []string{"80"}, FromLabel: []string{"app=app-4"}}, 82},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q := flow.Query{Last: 100, Filter: bc.filter}
			b.ReportAllocs()
			for b.Loop() {
				seq, err := o.Query(context.Background(), q, nil)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for range seq {
					n++
				}
				if n != bc.want {
					b.Fatalf("%d flows, want %d", n, bc.want)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/query")
		})
	}
}

// BenchmarkQueryLast100JSON adds what the API does with the result: each
// flow as a line of Hubble JSON.
func BenchmarkQueryLast100JSON(b *testing.B) {
	o := benchObserver(b, 4095)
	for _, f := range benchFlows(4095) {
		o.Ingest(f)
	}
	q := flow.Query{Last: 100, Filter: flow.Filter{Namespace: []string{"prod"}}}
	for _, enc := range []struct {
		name   string
		encode func(buf []byte, r *flow.Response) []byte
	}{
		{"append", func(buf []byte, r *flow.Response) []byte { return append(r.AppendJSON(buf), '\n') }},
		{"encoding-json", func(buf []byte, r *flow.Response) []byte {
			j, _ := json.Marshal(r)
			return append(append(buf, j...), '\n')
		}},
	} {
		b.Run(enc.name, func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				buf = buf[:0]
				seq, _ := o.Query(context.Background(), q, nil)
				for r := range seq {
					f := o.ToFlow(r)
					buf = enc.encode(buf, &flow.Response{Flow: f, NodeName: "node-1", Time: f.Time})
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/query")
			b.ReportMetric(float64(len(buf)), "bytes/query")
		})
	}
}

// BenchmarkDatapathToRing is the whole path on the real datapath with
// monitor-aggregation=none and the default 1 MiB ring buffer: one op is one
// UDP datagram between two pods, sent as fast as one goroutine can, which
// the programs report twice. It reports how many events per second reached
// the observe ring, the share the datapath had to drop because the reader
// was behind (lost-%), and the share of events never emitted because the
// kernel dropped the datagram before the programs saw it (a flood overflows
// the veth backlog; kernel-dropped-%). Needs root.
func BenchmarkDatapathToRing(b *testing.B) {
	e := setupHvob(b, func(c *bpf.Config) { c.MonitorAggregation = "none" })
	dst := netip.AddrPortFrom(e.server.ep.IPv4, 5555)
	var sink net.PacketConn
	check(b, onThreadIn(e.server.ns, func() (err error) { sink, err = net.ListenPacket("udp4", dst.String()); return err }))
	b.Cleanup(func() { sink.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			if _, _, err := sink.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	var c net.Conn
	check(b, onThreadIn(e.client.ns, func() (err error) { c, err = net.Dial("udp4", dst.String()); return err }))
	b.Cleanup(func() { c.Close() })
	seen0, lost0 := e.obs.ring.Written(), lostNow(b, e)
	msg := []byte("flood")
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	// Wait until every event is accounted for, or nothing more arrives
	// for 200ms (the kernel dropped the rest), then stop the clock.
	want := 2 * uint64(b.N)
	var seen, lost, last uint64
	lastChange := time.Now()
	for {
		seen, lost = e.obs.ring.Written()-seen0, lostNow(b, e)-lost0
		if seen+lost != last {
			last, lastChange = seen+lost, time.Now()
		}
		if seen+lost >= want || time.Since(lastChange) > 200*time.Millisecond {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	if seen+lost > want {
		b.Fatalf("seen %d + lost %d events, more than the %d sent", seen, lost, want)
	}
	b.ReportMetric(float64(seen)/b.Elapsed().Seconds(), "events/s")
	if seen+lost > 0 {
		b.ReportMetric(100*float64(lost)/float64(seen+lost), "lost-%")
	}
	b.ReportMetric(100*float64(want-seen-lost)/float64(want), "kernel-dropped-%")
}

// lostNow reads the datapath's lost counter directly (the cell's status
// refreshes it once a second).
func lostNow(b *testing.B, e *hvobEnv) uint64 {
	fr, err := e.d.Flows()
	if err != nil {
		b.Fatal(err)
	}
	defer fr.Close()
	n, err := fr.Lost()
	if err != nil {
		b.Fatal(err)
	}
	return n
}
