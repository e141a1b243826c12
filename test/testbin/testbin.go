// Package testbin builds hivenet's binaries for tests that run them as real
// processes (agents in node namespaces, the CNI plugin as a runtime calls
// it), each at most once per test binary, into one temporary directory.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Packages maps each binary's name to its package.
var Packages = map[string]string{
	"hivenet-agent":    "github.com/hivenet/hivenet/daemon",
	"hivenet-operator": "github.com/hivenet/hivenet/operator",
	"hivenet":          "github.com/hivenet/hivenet/cli",
	"hivenet-cni":      "github.com/hivenet/hivenet/cni",
	"hivenet-box":      "github.com/hivenet/hivenet/test/cmd/hivenet-box",
}

var (
	mu    sync.Mutex
	dir   string
	built = map[string]bool{}
)

// Build builds the named binaries that this test binary has not built yet
// and returns the directory holding them. It fails the test if a build
// fails. The tests that run these binaries need root, so Build fails the
// test without it rather than letting it skip.
func Build(t testing.TB, names ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test runs hivenet's binaries in network namespaces with BPF: run it as root")
	}
	mu.Lock()
	defer mu.Unlock()
	if dir == "" {
		d, err := os.MkdirTemp("", "hvbin-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	for _, name := range names {
		if built[name] {
			continue
		}
		pkg, ok := Packages[name]
		if !ok {
			t.Fatalf("testbin: unknown binary %q", name)
		}
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg).CombinedOutput(); err != nil {
			t.Fatal(fmt.Errorf("go build %s: %v\n%s", pkg, err, out))
		}
		built[name] = true
	}
	return dir
}

// Cleanup removes the binaries; call it from TestMain after m.Run.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
		dir, built = "", map[string]bool{}
	}
}
