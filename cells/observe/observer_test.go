package observe

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/hivenet/hivenet/cells/cell"
)

func TestFlowRate(t *testing.T) {
	o, err := NewObserver(4095, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	o.start(t0, "node-1")
	if r := o.Status().FlowsPerSecond; r != 0 {
		t.Fatalf("rate before any flow: %v", r)
	}
	// 100 flows/s for 20 seconds, then 10 flows/s: the figure follows
	// the last rateWindow seconds.
	now := t0
	step := func(flows int) {
		for range flows {
			o.Ingest(synFlow)
		}
		now = now.Add(time.Second)
		o.sampleRate(now)
	}
	for range 20 {
		step(100)
	}
	if r := o.Status().FlowsPerSecond; math.Abs(r-100) > 0.001 {
		t.Fatalf("rate %v, want 100", r)
	}
	for range 5 {
		step(10)
	}
	if r := o.Status().FlowsPerSecond; math.Abs(r-55) > 0.001 {
		t.Fatalf("rate over 5s at 100/s and 5s at 10/s: %v, want 55", r)
	}
	for range 10 {
		step(10)
	}
	if r := o.Status().FlowsPerSecond; math.Abs(r-10) > 0.001 {
		t.Fatalf("rate %v, want 10", r)
	}
	st := o.Status()
	if st.SeenFlows != 2150 || st.NumFlows != 2150 || st.MaxFlows != 4095 || o.NodeName() != "node-1" {
		t.Fatalf("status %+v", st)
	}
	if st.Source != "none: the datapath is not running" {
		t.Fatalf("source %q", st.Source)
	}
}

// Without an endpoints table flows still come through, by address, with
// the datapath's identities (world for unknown addresses).
func TestIngestWithoutEndpointsTable(t *testing.T) {
	o, _ := NewObserver(7, nil, nil)
	f := synFlow
	f.SrcIdentity = 4605
	o.Ingest(f)
	for _, r := range o.ring.Backward(o.ring.Written()) {
		if r.SrcEP != nil || r.SrcIdentity != 4605 || r.DstIdentity != 2 {
			t.Fatalf("record %+v", r)
		}
	}
}

func TestBadCapacityFlag(t *testing.T) {
	h := cell.New(Cell)
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	h.RegisterFlags(fs)
	if err := fs.Parse([]string{"--hubble-event-buffer-capacity=4096"}); err != nil {
		t.Fatal(err)
	}
	err := h.Populate()
	if err == nil || !strings.Contains(err.Error(), "--hubble-event-buffer-capacity") || !strings.Contains(err.Error(), "2^n-1") {
		t.Fatalf("Populate with capacity 4096: %v, want an error naming the flag and the rule", err)
	}
}
