package bpfmap

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// DefaultRoot is where bpffs is conventionally mounted.
const DefaultRoot = "/sys/fs/bpf"

// ErrNotBPFFS is returned when a pin directory is not on a bpf filesystem;
// pinning there would either fail or, on tmpfs, silently not survive.
var ErrNotBPFFS = errors.New("not on a bpf filesystem")

// IsBPFFS reports whether path lies on a bpf filesystem.
func IsBPFFS(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false, fmt.Errorf("statfs %s: %w", path, err)
	}
	return uint32(st.Type) == unix.BPF_FS_MAGIC, nil
}

// EnsureBPFFS makes sure a bpf filesystem is mounted at root, mounting one if
// root is not already bpffs. It fails, saying why, when it cannot: an agent
// that pinned nothing would lose all datapath state on its next restart.
func EnsureBPFFS(root string) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("create bpffs mount point %s: %w", root, err)
	}
	ok, err := IsBPFFS(root)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	if err := unix.Mount("bpffs", root, "bpf", 0, "mode=0700"); err != nil {
		return fmt.Errorf("mount bpffs at %s (needs root or CAP_SYS_ADMIN): %w", root, err)
	}
	if ok, err := IsBPFFS(root); err != nil || !ok {
		return fmt.Errorf("mounted bpffs at %s but it does not show as bpffs: %w", root, errors.Join(err, ErrNotBPFFS))
	}
	return nil
}
