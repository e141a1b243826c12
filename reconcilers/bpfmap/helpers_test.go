package bpfmap

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testPinDir mounts bpffs at /sys/fs/bpf if needed and returns a fresh pin
// directory under it, removed with everything pinned in it when t ends.
func testPinDir(t testing.TB) string {
	t.Helper()
	if err := EnsureBPFFS(DefaultRoot); err != nil {
		t.Fatalf("these tests need root and bpffs: %v", err)
	}
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	dir := filepath.Join(DefaultRoot, fmt.Sprintf("hvrc-%s-%d", name, os.Getpid()))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove pin dir: %v", err)
		}
	})
	return dir
}
