package bpfmap

import (
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// TestEnsureBPFFSMounts mounts a bpffs where there is none (a fresh
// directory on tmpfs), pins a map in it and unmounts it again.
func TestEnsureBPFFSMounts(t *testing.T) {
	dir := t.TempDir()
	if ok, err := IsBPFFS(dir); err != nil || ok {
		t.Fatalf("IsBPFFS(%s) = %v, %v before mounting", dir, ok, err)
	}
	if err := EnsureBPFFS(dir); err != nil {
		t.Fatalf("needs root: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	if ok, err := IsBPFFS(dir); err != nil || !ok {
		t.Fatalf("IsBPFFS(%s) = %v, %v after mounting", dir, ok, err)
	}
	// A second call finds it mounted and does not stack another mount.
	if err := EnsureBPFFS(dir); err != nil {
		t.Fatal(err)
	}
	m, err := New[uint32, uint32](Spec{Name: "hvrc_fs", Type: ebpf.Hash, MaxEntries: 1, PinDir: dir + "/sub"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Open(); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !m.EBPF().IsPinned() {
		t.Fatal("map not pinned")
	}
	if err := m.Unpin(); err != nil {
		t.Fatal(err)
	}
}
