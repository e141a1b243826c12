package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/hivenet/hivenet/bpf"
	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/cells/endpoints"
	"github.com/hivenet/hivenet/cells/observe"
	"github.com/hivenet/hivenet/cells/observe/flow"
	"github.com/hivenet/hivenet/statedb"
)

// observeSource is a flow source the test feeds.
type observeSource chan bpf.Flow

func (s observeSource) Observe(ctx context.Context, next func(bpf.Flow), complete func(error)) {
	cell.FromChannel((<-chan bpf.Flow)(s)).Observe(ctx, next, complete)
}

func (s observeSource) Lost() (uint64, error) { return 7, nil }

// startObserveAgent runs the agent's API server and observe cell (not a
// whole agent: no BPF needed) on a socket, with two pods in the endpoints
// table, and returns the socket and the feed.
func startObserveAgent(t *testing.T) (string, observeSource, *observe.Observer) {
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
	for _, ep := range []*endpoints.Endpoint{
		{ID: 1, Namespace: "default", Pod: "client-xyz", Identity: 4605, IPv4: netip.MustParseAddr("10.1.0.5"), Labels: map[string]string{"app": "client"}},
		{ID: 2, Namespace: "default", Pod: "server-abc", Identity: 22656, IPv4: netip.MustParseAddr("10.1.0.6"), Labels: map[string]string{"app": "server"}},
	} {
		if _, _, err := tbl.Insert(wtxn, ep); err != nil {
			t.Fatal(err)
		}
	}
	wtxn.Commit()
	src := make(observeSource)
	var obs *observe.Observer
	h := cell.New(
		api.Cell("test-agent", api.Config{SocketPath: sock}),
		cell.Provide(
			func() *statedb.DB { return db },
			func() statedb.Table[*endpoints.Endpoint] { return tbl.ToTable() },
			func() observe.FlowSource { return src },
		),
		observe.Cell,
		cell.Invoke(func(o *observe.Observer) { obs = o }),
	)
	h.RegisterFlags(pflag.NewFlagSet("agent", pflag.ContinueOnError))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.Stop(ctx)
	})
	return sock, src, obs
}

var observeTime = time.Date(2026, time.November, 22, 10, 45, 47, 483_000_000, time.UTC)

func observeTCP(src, dst string, flags bpf.TCPFlags, point bpf.ObservationPoint, ct bpf.CTStatus) bpf.Flow {
	return bpf.Flow{
		Time: observeTime, Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort(dst),
		Proto: bpf.ProtoTCP, TCP: flags, Verdict: bpf.VerdictForwarded, Point: point, CTStatus: ct,
	}
}

func feedObserve(t *testing.T, src observeSource, obs *observe.Observer, flows ...bpf.Flow) {
	t.Helper()
	want := obs.Status().SeenFlows + uint64(len(flows))
	for _, f := range flows {
		src <- f
	}
	deadline := time.Now().Add(5 * time.Second)
	for obs.Status().SeenFlows < want {
		if time.Now().After(deadline) {
			t.Fatal("flows did not reach the ring")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func runObserveCLI(ctx context.Context, args ...string) (string, error) {
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

func TestObserveCLI(t *testing.T) {
	sock, src, obs := startObserveAgent(t)
	feedObserve(t, src, obs,
		observeTCP("10.1.0.5:51944", "10.1.0.6:80", bpf.TCPSyn, bpf.ObsToEndpoint, bpf.CTNew),
		observeTCP("10.1.0.6:80", "10.1.0.5:51944", bpf.TCPSyn|bpf.TCPAck, bpf.ObsToEndpoint, bpf.CTReply),
		bpf.Flow{Time: observeTime, Src: netip.MustParseAddrPort("10.1.0.5:51950"), Dst: netip.MustParseAddrPort("10.1.0.6:80"),
			Proto: bpf.ProtoTCP, TCP: bpf.TCPSyn, Verdict: bpf.VerdictDropped, DropReason: bpf.DropPolicy, Point: bpf.ObsToEndpoint},
		bpf.Flow{Time: observeTime, Src: netip.MustParseAddrPort("10.1.0.5:40000"), Dst: netip.MustParseAddrPort("1.1.1.1:53"),
			Proto: bpf.ProtoUDP, Verdict: bpf.VerdictForwarded, Point: bpf.ObsFromEndpoint},
	)
	ctx := context.Background()

	out, err := runObserveCLI(ctx, "-s", sock, "observe", "--last", "20")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"Nov 22 10:45:47.483: default/client-xyz:51944 (ID:4605) -> default/server-abc:80 (ID:22656) to-endpoint FORWARDED (TCP Flags: SYN)",
		"Nov 22 10:45:47.483: default/client-xyz:51944 (ID:4605) <- default/server-abc:80 (ID:22656) to-endpoint FORWARDED (TCP Flags: SYN, ACK)",
		"Nov 22 10:45:47.483: default/client-xyz:51950 (ID:4605) <> default/server-abc:80 (ID:22656) Policy denied DROPPED (TCP Flags: SYN)",
		"Nov 22 10:45:47.483: default/client-xyz:40000 (ID:4605) -> 1.1.1.1:53 (world) from-endpoint FORWARDED (UDP)",
	}, "\n") + "\n"
	if out != want {
		t.Fatalf("hivenet observe --last 20:\n%s\nwant\n%s", out, want)
	}

	out, err = runObserveCLI(ctx, "-s", sock, "observe", "--verdict", "DROPPED", "--to-pod", "default/server")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out, "Policy denied DROPPED (TCP Flags: SYN)\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("--verdict DROPPED --to-pod: %q", out)
	}

	out, err = runObserveCLI(ctx, "-s", sock, "observe", "--protocol", "udp", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r flow.Response
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Flow.L4.UDP == nil || r.Flow.Destination.Identity != flow.IdentityWorld {
		t.Fatalf("-o json: %v\n%s", err, out)
	}

	if _, err := runObserveCLI(ctx, "-s", sock, "observe", "--port", "www"); err == nil || !strings.Contains(err.Error(), `agent: invalid value "www" for --port`) {
		t.Fatalf("bad filter: %v", err)
	}
	if _, err := runObserveCLI(ctx, "-s", sock, "observe", "-o", "table"); err == nil || !strings.Contains(err.Error(), "want compact, json or jsonpb") {
		t.Fatalf("bad -o: %v", err)
	}

	out, err = runObserveCLI(ctx, "-s", sock, "observe", "status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Current/Max Flows: 4/4,095 (0.10%)\n") || !strings.Contains(out, "Flows/s: ") {
		t.Fatalf("observe status:\n%s", out)
	}
}

func TestObserveCLIFollow(t *testing.T) {
	sock, src, obs := startObserveAgent(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr := newLineWriter()
	done := make(chan error, 1)
	go func() {
		cmd := newRootCmd()
		cmd.SetOut(pr)
		cmd.SetArgs([]string{"-s", sock, "observe", "-f", "--from-pod", "default/client"})
		done <- cmd.ExecuteContext(ctx)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for obs.Followers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the CLI did not start following")
		}
		time.Sleep(5 * time.Millisecond)
	}
	feedObserve(t, src, obs,
		observeTCP("10.1.0.6:80", "10.1.0.5:51944", bpf.TCPSyn|bpf.TCPAck, bpf.ObsToEndpoint, bpf.CTNew), // from the server: filtered out
		observeTCP("10.1.0.5:51944", "10.1.0.6:80", bpf.TCPAck|bpf.TCPFin, bpf.ObsToEndpoint, bpf.CTEstablished),
	)
	select {
	case line := <-pr.lines:
		if want := "Nov 22 10:45:47.483: default/client-xyz:51944 (ID:4605) -> default/server-abc:80 (ID:22656) to-endpoint FORWARDED (TCP Flags: ACK, FIN)"; line != want {
			t.Fatalf("followed %q, want %q", line, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no line from hivenet observe -f")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("interrupted follow: %v, want a clean exit", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("hivenet observe -f did not end when interrupted")
	}
}

// lineWriter hands each written line to a channel.
type lineWriter struct {
	buf   []byte
	lines chan string
}

func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan string, 100)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines <- string(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
}
