package cell_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hivenet/hivenet/cells/cell"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func moduleHealth(h *cell.Hive, id string) cell.ModuleHealth {
	for _, m := range h.Health().Modules() {
		if m.ID == id {
			return m
		}
	}
	return cell.ModuleHealth{}
}

func report(m cell.ModuleHealth, id string) cell.Status {
	for _, r := range m.Reports {
		if r.ID == id {
			return r
		}
	}
	return cell.Status{}
}

func TestOneShotRetriesWithBackoff(t *testing.T) {
	var attempts atomic.Int32
	var times [4]time.Time
	h := newHive(t, nil, cell.Module("retrier", "retries",
		cell.Invoke(func(jobs cell.Jobs) {
			jobs.Add(cell.OneShot("flaky", func(ctx context.Context, _ cell.Health) error {
				n := attempts.Add(1)
				times[n-1] = time.Now()
				if n < 4 {
					return fmt.Errorf("attempt %d failed", n)
				}
				return nil
			}, cell.WithRetry(5, cell.Backoff{Min: 20 * time.Millisecond, Max: 40 * time.Millisecond})))
		})))
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer h.Stop(context.Background())
	eventually(t, "four attempts and OK health", func() bool {
		r := report(moduleHealth(h, "retrier"), "retrier.job-flaky")
		return attempts.Load() == 4 && r.Level == cell.LevelOK && r.Message == "completed"
	})
	// Backoff doubles from Min and is capped at Max: 20ms, 40ms, 40ms.
	wantMin := []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond}
	for i, w := range wantMin {
		if gap := times[i+1].Sub(times[i]); gap < w {
			t.Errorf("gap before attempt %d = %s, want at least %s", i+2, gap, w)
		}
	}
}

func TestOneShotDegradedAfterLastRetryAndShutdown(t *testing.T) {
	h := newHive(t, nil, cell.Module("doomed", "always fails",
		cell.Invoke(func(jobs cell.Jobs) {
			jobs.Add(cell.OneShot("hopeless", func(context.Context, cell.Health) error {
				return errors.New("no luck")
			}, cell.WithRetry(1, cell.Backoff{Min: time.Millisecond}), cell.WithShutdown()))
		})))
	done := make(chan error, 1)
	go func() { done <- h.Run() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no luck") || !strings.Contains(err.Error(), "hopeless") {
			t.Fatalf("Run = %v, want the job's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a failed WithShutdown job did not stop the hive")
	}
}

func TestJobsStopOnShutdown(t *testing.T) {
	var running, exited atomic.Bool
	h := newHive(t, nil, cell.Module("worker", "works until stopped",
		cell.Invoke(func(jobs cell.Jobs) {
			jobs.Add(cell.OneShot("loop", func(ctx context.Context, _ cell.Health) error {
				running.Store(true)
				<-ctx.Done()
				exited.Store(true)
				return ctx.Err()
			}))
		})))
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "job running", running.Load)
	if exited.Load() {
		t.Fatal("job exited before stop")
	}
	if err := h.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !exited.Load() {
		t.Fatal("Stop returned before the job exited")
	}
	if m := moduleHealth(h, "worker"); m.Level != cell.LevelStopped {
		t.Errorf("health after stop = %v, want Stopped", m.Level)
	}
}

func TestTimerRunsOnIntervalAndTrigger(t *testing.T) {
	var runs atomic.Int32
	trig := cell.NewTrigger()
	h := newHive(t, nil, cell.Module("ticker", "ticks",
		cell.Invoke(func(jobs cell.Jobs) {
			jobs.Add(cell.Timer("tick", func(context.Context) error { runs.Add(1); return nil },
				time.Hour, cell.WithTrigger(trig)))
		})))
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer h.Stop(context.Background())
	trig.Trigger()
	eventually(t, "triggered run", func() bool { return runs.Load() == 1 })

	var fast atomic.Int32
	h2 := newHive(t, nil, cell.Module("fast", "ticks often",
		cell.Invoke(func(jobs cell.Jobs) {
			jobs.Add(cell.Timer("tick", func(context.Context) error {
				if fast.Add(1) == 1 {
					return errors.New("first run fails")
				}
				return nil
			}, 5*time.Millisecond))
		})))
	if err := h2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer h2.Stop(context.Background())
	eventually(t, "degraded after failing run", func() bool { return fast.Load() >= 1 })
	eventually(t, "recovered on interval", func() bool {
		return fast.Load() >= 3 && moduleHealth(h2, "fast").Level == cell.LevelOK
	})
}

func TestObserverHandlesEveryEventAndReportsErrors(t *testing.T) {
	ch := make(chan int)
	var seen []int
	var done atomic.Bool
	h := newHive(t, nil, cell.Module("obs", "observes",
		cell.Invoke(func(jobs cell.Jobs) {
			jobs.Add(cell.Observer("numbers", func(_ context.Context, n int) error {
				seen = append(seen, n)
				if n == 3 {
					done.Store(true)
					return errors.New("three is bad")
				}
				return nil
			}, cell.FromChannel(ch)))
		})))
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer h.Stop(context.Background())
	for i := 1; i <= 3; i++ {
		ch <- i
	}
	eventually(t, "third event", done.Load)
	eventually(t, "degraded health", func() bool {
		m := moduleHealth(h, "obs")
		return m.Level == cell.LevelDegraded && strings.Contains(m.Message, "three is bad")
	})
	if fmt.Sprint(seen) != "[1 2 3]" {
		t.Fatalf("seen = %v", seen)
	}
}

func TestHealthAggregation(t *testing.T) {
	var db, net cell.Health
	h := newHive(t, nil,
		cell.Module("db", "database", cell.Invoke(func(h cell.Health) { db = h })),
		cell.Module("net", "network", cell.Invoke(func(h cell.Health) { net = h })),
		cell.Module("quiet", "reports nothing"),
	)
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if lvl := h.Health().Level(); lvl != cell.LevelOK {
		t.Fatalf("after start: %v, want OK (modules that say nothing are OK once started)", lvl)
	}
	db.OK("serving")
	dev := net.NewScope("devices")
	dev.OK("eth0 up")
	routes := net.NewScope("routes")
	routes.Degraded("route sync failing", errors.New("EPERM"))
	if lvl := h.Health().Level(); lvl != cell.LevelDegraded {
		t.Fatalf("overall = %v, want Degraded", lvl)
	}
	m := moduleHealth(h, "net")
	if m.Level != cell.LevelDegraded || !strings.Contains(m.Message, "routes") || !strings.Contains(m.Message, "EPERM") ||
		report(m, "net.devices").Level != cell.LevelOK || report(m, "net.routes").Error != "EPERM" {
		t.Fatalf("net module = %+v", m)
	}
	if m := moduleHealth(h, "db"); m.Level != cell.LevelOK || m.Title != "database" {
		t.Fatalf("db module = %+v", m)
	}
	routes.OK("synced")
	if lvl := h.Health().Level(); lvl != cell.LevelOK {
		t.Fatalf("after recovery: %v", lvl)
	}
	if err := h.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, m := range h.Health().Modules() {
		if m.Level != cell.LevelStopped {
			t.Errorf("module %s after stop: %v", m.ID, m.Level)
		}
	}
}

// TestJobsStopBeforeTheirDependencies: a job added by a constructor stops
// before the objects that constructor depends on, whatever the order of the
// constructor's parameters (here Jobs comes first).
func TestJobsStopBeforeTheirDependencies(t *testing.T) {
	rec := &recorder{}
	h := newHive(t, nil,
		cell.Module("maps", "owns maps", cell.Provide(func(lc cell.Lifecycle) A {
			lc.Append(cell.Hook{Name: "maps",
				OnStart: func(context.Context) error { rec.add("open maps"); return nil },
				OnStop:  func(context.Context) error { rec.add("close maps"); return nil }})
			return A{}
		})),
		cell.Module("reader", "reads the maps", cell.Invoke(func(jobs cell.Jobs, _ A) {
			jobs.Add(cell.OneShot("read", func(ctx context.Context, _ cell.Health) error {
				rec.add("reader running")
				<-ctx.Done()
				rec.add("reader exited")
				return nil
			}))
		})),
	)
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reader running", func() bool { return len(rec.get()) == 2 })
	if err := h.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "open maps,reader running,reader exited,close maps"
	if got := strings.Join(rec.get(), ","); got != want {
		t.Fatalf("order = %s, want %s", got, want)
	}
}

// TestHookAppendedWhileRunning starts at once and stops with the hive.
func TestHookAppendedWhileRunning(t *testing.T) {
	rec := &recorder{}
	var jobs cell.Jobs
	h := newHive(t, nil, cell.Module("late", "adds work late", cell.Invoke(func(j cell.Jobs) { jobs = j })))
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	jobs.Add(cell.OneShot("late", func(ctx context.Context, _ cell.Health) error {
		rec.add("late running")
		<-ctx.Done()
		rec.add("late exited")
		return nil
	}))
	eventually(t, "late job running", func() bool { return len(rec.get()) == 1 })
	if err := h.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rec.get(), ","); got != "late running,late exited" {
		t.Fatalf("events = %s", got)
	}
}
