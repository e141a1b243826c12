package observe

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/observe/flow"
	"github.com/hivenet/hivenet/statedb"
)

// chanSource is a FlowSource fed by the test.
type chanSource struct {
	ch   chan bpf.Flow
	lost atomic.Uint64
}

func (s *chanSource) Observe(ctx context.Context, next func(bpf.Flow), complete func(error)) {
	cell.FromChannel(s.ch).Observe(ctx, next, complete)
}

func (s *chanSource) Lost() (uint64, error) { return s.lost.Load(), nil }

// testAgent is a hive with the API server on a unix socket, the observe
// cell, an endpoints table holding the test pods and a fed flow source.
type testAgent struct {
	hive    *cell.Hive
	src     *chanSource
	obs     *Observer
	client  *http.Client
	stopped bool
}

func startTestAgent(t *testing.T, capacity int) *testAgent {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	db := statedb.New()
	tbl, err := endpoints.NewTable()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RegisterTable(tbl); err != nil {
		t.Fatal(err)
	}
	wtxn := db.WriteTxn(tbl)
	for _, ep := range []*endpoints.Endpoint{clientEP, serverEP, dbEP} {
		if _, _, err := tbl.Insert(wtxn, ep); err != nil {
			t.Fatal(err)
		}
	}
	wtxn.Commit()

	a := &testAgent{src: &chanSource{ch: make(chan bpf.Flow)}}
	a.hive = cell.New(
		api.Cell("test-agent", api.Config{SocketPath: sock}),
		cell.Provide(
			func() *statedb.DB { return db },
			func() statedb.Table[*endpoints.Endpoint] { return tbl.ToTable() },
			func() FlowSource { return a.src },
		),
		Cell,
		cell.Invoke(func(o *Observer) { a.obs = o }),
	)
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	a.hive.RegisterFlags(fs)
	if err := fs.Parse([]string{fmt.Sprintf("--hubble-event-buffer-capacity=%d", capacity)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.hive.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a.stopped {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.hive.Stop(ctx); err != nil {
			t.Errorf("hive stop: %v", err)
		}
	})
	a.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	return a
}

// feed hands flows to the observer and waits until the ring has them.
func (a *testAgent) feed(t *testing.T, flows ...bpf.Flow) {
	t.Helper()
	want := a.obs.ring.Written() + uint64(len(flows))
	for _, f := range flows {
		select {
		case a.src.ch <- f:
		case <-time.After(5 * time.Second):
			t.Fatal("the observe cell does not read its flow source")
		}
	}
	waitFor(t, "flows in the ring", func() bool { return a.obs.ring.Written() >= want })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (a *testAgent) get(ctx context.Context, t *testing.T, path string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://agent"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// lines reads n flow lines of an NDJSON stream as compact lines.
func readLines(t *testing.T, sc *bufio.Scanner, n int) []string {
	t.Helper()
	var out []string
	for len(out) < n && sc.Scan() {
		var r flow.Response
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		out = append(out, flow.Compact(r.Flow))
	}
	if len(out) < n {
		t.Fatalf("stream ended after %d of %d lines: %v", len(out), n, sc.Err())
	}
	return out
}

func TestAPIFlowsLastAndFilters(t *testing.T) {
	a := startTestAgent(t, 7)
	a.feed(t, synFlow, synAckFlow, dropFlow, udpWorldFlow, pingFlow, hostFlow)

	get := func(q string) []string {
		resp := a.get(context.Background(), t, "/v1/flows?"+q)
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", q, resp.Status)
		}
		if ct := resp.Header.Get("Content-Type"); ct != ContentTypeNDJSON {
			t.Fatalf("content type %q", ct)
		}
		var out []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var r flow.Response
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			if r.NodeName == "" {
				t.Errorf("no node name in %s", sc.Text())
			}
			out = append(out, flow.Compact(r.Flow))
		}
		return out
	}
	all := get("last=100")
	if len(all) != 6 {
		t.Fatalf("last=100 gave %d flows, want the 6 fed:\n%s", len(all), strings.Join(all, "\n"))
	}
	if !strings.Contains(all[0], "-> default/server-745fb:80 (ID:22656) to-endpoint FORWARDED (TCP Flags: SYN)") ||
		!strings.Contains(all[5], "192.168.1.1:41000 (host)") {
		t.Fatalf("not oldest first:\n%s", strings.Join(all, "\n"))
	}
	if got := get("last=2"); len(got) != 2 || got[0] != all[4] || got[1] != all[5] {
		t.Fatalf("last=2 = %q, want the 2 newest oldest first", got)
	}
	if got := get("last=100&verdict=DROPPED"); len(got) != 1 || !strings.Contains(got[0], "Policy denied DROPPED") {
		t.Fatalf("verdict=DROPPED: %q", got)
	}
	if got := get(url.Values{"from-pod": {"default/client"}, "protocol": {"tcp"}, "last": {"1"}}.Encode()); len(got) != 1 || !strings.Contains(got[0], "<> prod/db-0:5432") {
		t.Fatalf("from-pod+protocol last=1: %q", got)
	}
	if got := get(""); len(got) != 6 {
		t.Fatalf("no parameters: %d flows, want the default last %d (all 6 here)", len(got), flow.DefaultLast)
	}

	// The ring is bounded: 7 flows, the oldest first out.
	a.feed(t, synFlow, synFlow)
	if got := get("last=100"); len(got) != 7 || got[0] != all[1] {
		t.Fatalf("after 8 flows into a ring of 7: %d flows, first %q", len(got), got[0])
	}

	resp := a.get(context.Background(), t, "/v1/flows?port=http")
	var e api.Error
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(e.Error, `invalid value "http" for --port`) {
		t.Fatalf("bad filter: %s %q", resp.Status, e.Error)
	}

	a.src.lost.Store(42)
	waitFor(t, "lost events in the status", func() bool { return a.obs.Status().Lost == 42 })
	resp = a.get(context.Background(), t, "/v1/flows/status")
	var st flow.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st.NumFlows != 7 || st.MaxFlows != 7 || st.SeenFlows != 8 || st.Lost != 42 || st.Uptime <= 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestAPIFollow(t *testing.T) {
	a := startTestAgent(t, 4095)
	a.feed(t, synFlow, dropFlow)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := a.get(ctx, t, "/v1/flows?follow=1&last=1&from-pod=default/client")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("follow: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	// History first: the newest matching flow.
	if got := readLines(t, sc, 1); !strings.Contains(got[0], "Policy denied DROPPED") {
		t.Fatalf("history %q", got)
	}
	// Then new flows as they come; the filter applies (synAck is from the server).
	a.feed(t, synAckFlow, synFlow, pingFlow, synFlow)
	got := readLines(t, sc, 2)
	for _, l := range got {
		if !strings.Contains(l, "default/client-cb9d7:51944 (ID:4605) -> default/server-745fb:80") {
			t.Fatalf("followed %q", got)
		}
	}
	if a.obs.Followers() != 1 {
		t.Fatalf("%d followers, want 1", a.obs.Followers())
	}
	// The client goes away: the stream ends on the server.
	cancel()
	waitFor(t, "the follow stream to end after the client left", func() bool { return a.obs.Followers() == 0 })
}

// TestAPIFollowEndsOnStop checks that a follower does not hold up the
// agent's shutdown.
func TestAPIFollowEndsOnStop(t *testing.T) {
	a := startTestAgent(t, 15)
	resp := a.get(context.Background(), t, "/v1/flows?follow=1")
	defer resp.Body.Close()
	waitFor(t, "the follower", func() bool { return a.obs.Followers() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	a.stopped = true
	if err := a.hive.Stop(ctx); err != nil {
		t.Fatalf("stop with a follower: %v (after %s)", err, time.Since(start))
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err == nil {
		t.Fatal("the stream is still open after the agent stopped")
	}
}

// flakySource fails to open a few times, as the datapath's ring buffer
// does before the datapath is loaded, then streams its channel.
type flakySource struct {
	chanSource
	failures atomic.Int32
}

func (s *flakySource) Observe(ctx context.Context, next func(bpf.Flow), complete func(error)) {
	if s.failures.Add(-1) >= 0 {
		complete(fmt.Errorf("datapath not loaded"))
		return
	}
	s.chanSource.Observe(ctx, next, complete)
}

func TestSourceReopenedAfterFailures(t *testing.T) {
	src := &flakySource{chanSource: chanSource{ch: make(chan bpf.Flow)}}
	src.failures.Store(2)
	var obs *Observer
	h := cell.New(
		cell.Provide(func() FlowSource { return src }),
		Cell,
		cell.Invoke(func(o *Observer) { obs = o }),
	)
	h.RegisterFlags(pflag.NewFlagSet("agent", pflag.ContinueOnError))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Stop(ctx)
	select {
	case src.ch <- synFlow:
	case <-time.After(5 * time.Second):
		t.Fatalf("the source was not reopened after failing; status %+v", obs.Status())
	}
	waitFor(t, "the flow in the ring", func() bool { return obs.Status().SeenFlows == 1 })
	// The source is marked open once Observe has returned, which may be
	// just after the first flow arrived.
	waitFor(t, "the source to be reported open", func() bool { return obs.Status().Source == "datapath flow ring buffer" })
}
