package cell_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/hivenet/hivenet/cells/cell"
)

// newHive builds a hive, parses args and populates it, failing the test on error.
func newHive(t *testing.T, args []string, cells ...cell.Cell) *cell.Hive {
	t.Helper()
	h, err := tryHive(args, nil, cells...)
	if err != nil {
		t.Fatalf("populate: %v", err)
	}
	return h
}

func tryHive(args []string, log *slog.Logger, cells ...cell.Cell) (*cell.Hive, error) {
	h := cell.New(cells...)
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	h.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return h, err
	}
	if log != nil {
		h.SetLogger(log)
	}
	return h, h.Populate()
}

// recorder collects events in order, safe for concurrent use.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, s)
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

type A struct{}
type B struct{}
type C struct{}

func hooks(rec *recorder, name string, lc cell.Lifecycle, failStart bool) {
	lc.Append(cell.Hook{
		Name: name,
		OnStart: func(context.Context) error {
			rec.add("start " + name)
			if failStart {
				return errors.New("boom")
			}
			return nil
		},
		OnStop: func(context.Context) error { rec.add("stop " + name); return nil },
	})
}

func TestLifecycleOrderAndReverseStop(t *testing.T) {
	rec := &recorder{}
	// C depends on B depends on A, declared in the opposite order and in
	// different modules: start order must follow dependencies, not declaration.
	h := newHive(t, nil,
		cell.Module("c", "C",
			cell.Provide(func(lc cell.Lifecycle, _ B) C { hooks(rec, "c", lc, false); return C{} }),
			cell.Invoke(func(C) {}),
		),
		cell.Module("b", "B", cell.Provide(func(lc cell.Lifecycle, _ A) B { hooks(rec, "b", lc, false); return B{} })),
		cell.Module("a", "A", cell.Provide(func(lc cell.Lifecycle) A { hooks(rec, "a", lc, false); return A{} })),
	)
	if err := h.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	if err := h.Stop(context.Background()); err != nil {
		t.Fatalf("stop: %v", err)
	}
	want := []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}
	if got := rec.get(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("hook order = %v, want %v", got, want)
	}
}

func TestFailingStartUnwindsAndNamesModule(t *testing.T) {
	rec := &recorder{}
	h := newHive(t, nil,
		cell.Module("first", "first", cell.Provide(func(lc cell.Lifecycle) A { hooks(rec, "first", lc, false); return A{} })),
		cell.Module("broken", "fails to start", cell.Provide(func(lc cell.Lifecycle, _ A) B { hooks(rec, "broken", lc, true); return B{} })),
		cell.Module("never", "after the failure", cell.Provide(func(lc cell.Lifecycle, _ B) C { hooks(rec, "never", lc, false); return C{} })),
		cell.Invoke(func(C) {}),
	)
	err := h.Start(context.Background())
	if err == nil {
		t.Fatal("start succeeded, want failure")
	}
	if !errors.Is(err, cell.ErrStart) {
		t.Errorf("error %v does not wrap ErrStart", err)
	}
	if !strings.Contains(err.Error(), `module "broken"`) || !strings.Contains(err.Error(), "boom") {
		t.Errorf("error %q does not name the module and the cause", err)
	}
	want := []string{"start first", "start broken", "stop first"}
	if got := rec.get(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events = %v, want %v (the failed hook's own stop must not run, nothing after it may start)", got, want)
	}
}

func TestConstructorErrorNamesModule(t *testing.T) {
	_, err := tryHive(nil, nil, cell.Module("ctor-fails", "x",
		cell.Provide(func() (A, error) { return A{}, errors.New("cannot allocate") }),
		cell.Invoke(func(A) {}),
	))
	if err == nil || !strings.Contains(err.Error(), `module "ctor-fails"`) || !strings.Contains(err.Error(), "cannot allocate") {
		t.Fatalf("populate error = %v, want it to name module ctor-fails and the cause", err)
	}
}

func TestStartTimeout(t *testing.T) {
	h := newHive(t, []string{"--start-timeout=50ms"}, cell.Module("slow", "slow",
		cell.Invoke(func(lc cell.Lifecycle) {
			lc.Append(cell.Hook{OnStart: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }})
		})))
	err := h.Start(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `module "slow"`) {
		t.Fatalf("start = %v, want deadline exceeded naming module slow", err)
	}
}

type netConfig struct {
	DevicePrefix  string
	MTU           int
	EnableIPv4    bool          `flag:"enable-ipv4"`
	ProbeInterval time.Duration `help:"how often to probe"`
	Devices       []string
}

func (c netConfig) Validate() error {
	if c.MTU < 576 {
		return errors.New("--mtu must be at least 576")
	}
	return nil
}

var defaultNetConfig = netConfig{DevicePrefix: "lxc", MTU: 1500, EnableIPv4: true, ProbeInterval: time.Second}

func configOf(t *testing.T, args []string, dir string, log *slog.Logger) (netConfig, error) {
	t.Helper()
	var got netConfig
	if dir != "" {
		args = append(args, "--config-dir="+dir)
	}
	_, err := tryHive(args, log, cell.Module("net", "net",
		cell.Config(defaultNetConfig),
		cell.Invoke(func(c netConfig) { got = c }),
	))
	return got, err
}

func TestConfigDefaultsAndFlags(t *testing.T) {
	c, err := configOf(t, nil, "", nil)
	if err != nil || c.MTU != 1500 || c.DevicePrefix != "lxc" || !c.EnableIPv4 {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c, err = configOf(t, []string{"--mtu=9000", "--device-prefix=veth", "--enable-ipv4=false", "--probe-interval=3s", "--devices=eth0,eth1"}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := netConfig{DevicePrefix: "veth", MTU: 9000, ProbeInterval: 3 * time.Second, Devices: []string{"eth0", "eth1"}}
	if c.MTU != want.MTU || c.DevicePrefix != want.DevicePrefix || c.EnableIPv4 || c.ProbeInterval != want.ProbeInterval || strings.Join(c.Devices, ",") != "eth0,eth1" {
		t.Fatalf("from flags: %+v, want %+v", c, want)
	}
}

func TestConfigDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(k, v string) {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("mtu", "1400\n")
	write("device-prefix", "cni")
	write("no-such-flag", "1")
	// A mounted ConfigMap's bookkeeping entries must be ignored.
	if err := os.Mkdir(filepath.Join(dir, "..data"), 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c, err := configOf(t, []string{"--device-prefix=cli"}, dir, log)
	if err != nil {
		t.Fatalf("unknown key must be a warning, got error: %v", err)
	}
	if c.MTU != 1400 {
		t.Errorf("mtu = %d, want 1400 from the config dir", c.MTU)
	}
	if c.DevicePrefix != "cli" {
		t.Errorf("device-prefix = %q, want the command line to win", c.DevicePrefix)
	}
	if !strings.Contains(logs.String(), "no-such-flag") || !strings.Contains(logs.String(), "WARN") {
		t.Errorf("no warning for unknown key; logs: %s", logs.String())
	}

	write("mtu", "lots")
	_, err = configOf(t, nil, dir, log)
	if err == nil || !strings.Contains(err.Error(), "--mtu") || !strings.Contains(err.Error(), `"lots"`) {
		t.Fatalf("bad value in config dir: err = %v, want it to name --mtu and the value", err)
	}
}

func TestBadFlagValueNamesFlag(t *testing.T) {
	_, err := configOf(t, []string{"--mtu=abc"}, "", nil)
	if err == nil || !strings.Contains(err.Error(), "--mtu") || !strings.Contains(err.Error(), "abc") {
		t.Fatalf("err = %v, want it to name --mtu and abc", err)
	}
	_, err = configOf(t, []string{"--mtu=100"}, "", nil)
	if err == nil || !strings.Contains(err.Error(), "--mtu") || !strings.Contains(err.Error(), `module "net"`) {
		t.Fatalf("validation: err = %v, want it to name --mtu and module net", err)
	}
}

func TestDisabledFeatureConstructsNothing(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		var constructed, invoked, started bool
		feature := cell.Feature("enable-widget", "Enable the widget", false,
			cell.Module("widget", "widget",
				cell.Config(netConfig{MTU: 1500}),
				cell.Provide(func(lc cell.Lifecycle) A {
					constructed = true
					lc.Append(cell.Hook{OnStart: func(context.Context) error { started = true; return nil }})
					return A{}
				}),
				cell.Invoke(func(A) { invoked = true }),
			))
		args := []string{"--mtu=1600"} // a disabled feature's flags are still accepted
		if enabled {
			args = append(args, "--enable-widget")
		}
		h := newHive(t, args, feature)
		if err := h.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if constructed != enabled || invoked != enabled || started != enabled {
			t.Errorf("enabled=%v: constructed=%v invoked=%v started=%v", enabled, constructed, invoked, started)
		}
		var found bool
		for _, f := range h.Features() {
			if f.Flag == "enable-widget" {
				found = true
				if f.Enabled != enabled {
					t.Errorf("feature state = %v, want %v", f.Enabled, enabled)
				}
			}
		}
		if !found {
			t.Error("feature missing from Features()")
		}
		_ = h.Stop(context.Background())
	}
}

func TestPrivateProvideIsNotExported(t *testing.T) {
	_, err := tryHive(nil, nil,
		cell.Module("inner", "x", cell.ProvidePrivate(func() A { return A{} }), cell.Invoke(func(A) {})),
		cell.Module("outer", "y", cell.Invoke(func(A) {})),
	)
	if err == nil {
		t.Fatal("a private object was visible outside its module")
	}
}

func TestModuleLoggerCarriesModuleID(t *testing.T) {
	var buf bytes.Buffer
	_, err := tryHive(nil, slog.New(slog.NewTextHandler(&buf, nil)),
		cell.Module("chatty", "logs", cell.Invoke(func(log *slog.Logger) { log.Info("hello") })))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "module=chatty") || !strings.Contains(buf.String(), "hello") {
		t.Fatalf("log line lacks module id: %q", buf.String())
	}
}

func TestDecorate(t *testing.T) {
	type Name string
	var inside, outside Name
	newHive(t, nil,
		cell.Provide(func() Name { return "plain" }),
		cell.Decorate(func(n Name) Name { return n + "+decorated" },
			cell.Invoke(func(n Name) { inside = n })),
		cell.Invoke(func(n Name) { outside = n }),
	)
	if inside != "plain+decorated" || outside != "plain" {
		t.Fatalf("inside=%q outside=%q", inside, outside)
	}
}
