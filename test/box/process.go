package box

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// process is one control-plane component run as a child process, its
// output in <dir>/<name>.log. It is stopped by its own PID only.
type process struct {
	name    string
	bin     string
	args    []string
	logPath string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit status, valid after done is closed
}

func newProcess(dir, name, bin string, args ...string) *process {
	return &process{name: name, bin: bin, args: args, logPath: filepath.Join(dir, name+".log")}
}

func (p *process) start() error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "=== %s start: %s %v\n", time.Now().Format(time.RFC3339Nano), p.bin, p.args)
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig: a test binary killed by the harness must not leak an
	// apiserver holding ports; Setpgid keeps terminal signals away from it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := startOnSpawnerThread(cmd); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.cmd = cmd
	p.done = make(chan struct{})
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return nil
}

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	if p.done == nil {
		return true, errors.New("not started")
	}
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM and, after grace, SIGKILL; it returns once the process
// has been reaped.
func (p *process) stop(grace time.Duration) {
	if p.cmd == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// logTail returns the last lines of the process's log, for error messages.
func (p *process) logTail(lines int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	data = bytes.TrimRight(data, "\n")
	for i, n := len(data)-1, 0; i >= 0; i-- {
		if data[i] == '\n' {
			n++
			if n == lines {
				return string(data[i+1:])
			}
		}
	}
	return string(data)
}

// The kernel sends Pdeathsig when the thread that started a process exits,
// not the process; Go destroys a thread whenever a goroutine that locked it
// (every network-namespace helper does) returns. Started from an arbitrary
// goroutine, the API server could be killed at random by unrelated test code
// (it was). So every component starts from one locked thread that lives as
// long as the test binary.
var spawnReqs = func() chan func() {
	ch := make(chan func())
	go func() {
		runtime.LockOSThread() // never unlocked, never exits
		for f := range ch {
			f()
		}
	}()
	return ch
}()

func startOnSpawnerThread(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	spawnReqs <- func() { errc <- cmd.Start() }
	return <-errc
}
