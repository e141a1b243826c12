package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hivenet/hivenet/cells/api"
	"github.com/hivenet/hivenet/cells/cell"
	"github.com/hivenet/hivenet/test/testbin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// startAgent runs a real hivenet-agent serving on a socket in a temp dir and
// stops it when the test ends. The agent probes BPF, so this needs root.
func startAgent(t *testing.T, dir string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test runs a real agent, which needs root (BPF probes); run the suite as root")
	}
	agent := filepath.Join(testbin.Build(t, "hivenet-agent"), "hivenet-agent")
	sock := filepath.Join(dir, "agent.sock")
	// The agent owns its network namespace (routes, a router device,
	// nftables), so it gets a fresh one rather than the host's.
	name := "hvcli-" + filepath.Base(dir)
	if len(name) > 30 {
		name = name[:30]
	}
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", name).Run()
		os.RemoveAll("/sys/fs/bpf/" + name)
	})
	var logs bytes.Buffer
	cmd := exec.Command("nsenter", "--net=/var/run/netns/"+name, "--", agent,
		"--socket-path", sock, "--enable-k8s=false",
		"--state-dir", filepath.Join(dir, "state"), "--bpf-root", "/sys/fs/bpf/"+name)
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("agent did not stop on SIGINT; logs:\n%s", logs.String())
		}
	})
	return sock
}

func runCLI(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestStatusAgainstRunningAgent(t *testing.T) {
	sock := startAgent(t, t.TempDir())
	out, err := runCLI(t, "-s", sock, "status", "--wait", "--wait-duration=60s")
	if err != nil {
		t.Fatalf("status --wait: %v\n%s", err, out)
	}
	for _, want := range []string{"Agent:", "OK", "hivenet-agent", "api", "kernel", "Modules:"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(t, "-s", sock, "status", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var st api.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("-o json is not JSON: %v\n%s", err, out)
	}
	if st.Level != cell.LevelOK || len(st.Modules) < 2 {
		t.Fatalf("status = %+v, want OK with every module", st)
	}
	for _, m := range st.Modules {
		if m.Level != cell.LevelOK {
			t.Errorf("module %s is %s: %s", m.ID, m.Level, m.Message)
		}
	}
}

func TestStatusWithoutAgentFailsWithOneLine(t *testing.T) {
	dir := t.TempDir()
	cli := filepath.Join(testbin.Build(t, "hivenet"), "hivenet")
	cmd := exec.Command(cli, "status", "--socket", filepath.Join(dir, "nobody-home.sock"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if exitErr, ok := err.(*exec.ExitError); !ok || exitErr.ExitCode() == 0 {
		t.Fatalf("exit = %v, want a non-zero exit code", err)
	}
	msg := stderr.String()
	if strings.Count(strings.TrimRight(msg, "\n"), "\n") != 0 || !strings.Contains(msg, "cannot reach the hivenet agent") || !strings.Contains(msg, "nobody-home.sock") {
		t.Fatalf("stderr = %q, want one line naming the socket", msg)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
}

func TestStatusWaitTimesOut(t *testing.T) {
	_, err := runCLI(t, "-s", filepath.Join(t.TempDir(), "none.sock"), "status", "--wait", "--wait-duration=300ms")
	if err == nil || !strings.Contains(err.Error(), "not healthy after 300ms") {
		t.Fatalf("err = %v, want a timeout naming the duration", err)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	sock := startAgent(t, t.TempDir())
	if _, err := runCLI(t, "-s", sock, "status", "--wait", "--wait-duration=60s"); err != nil {
		t.Fatal(err)
	}
	socketPath = sock
	resp, err := agentGet(context.Background(), "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"go_goroutines", "hivenet_statedb_", "hivenet_reconciler"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
