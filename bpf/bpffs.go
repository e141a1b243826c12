package bpf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrNoBPFFS is returned when the bpf root is not on a bpffs and one
// cannot be mounted.
var ErrNoBPFFS = errors.New("no bpffs")

// bpffsMount is where a bpffs is mounted when the bpf root is not on one,
// as systemd and Cilium mount it.
const bpffsMount = "/sys/fs/bpf"

func isBPFFS(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false, err
	}
	return uint32(st.Type) == unix.BPF_FS_MAGIC, nil
}

// ensureBPFFS makes root a directory on a bpffs, mounting one at
// /sys/fs/bpf if root is under it and nothing is mounted there yet. The
// mount is left in place: pinned objects live in it beyond this process.
func ensureBPFFS(root string) error {
	root = filepath.Clean(root)
	// The nearest existing ancestor tells which filesystem root will be on.
	dir := root
	for {
		if _, err := os.Stat(dir); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	ok, err := isBPFFS(dir)
	if err != nil {
		return fmt.Errorf("%w: statfs %s: %w", ErrNoBPFFS, dir, err)
	}
	if !ok {
		rel, err := filepath.Rel(bpffsMount, root)
		if err != nil || rel == ".." || filepath.IsAbs(rel) || (len(rel) >= 3 && rel[:3] == "../") {
			return fmt.Errorf("%w: bpf-root %s is not on a bpffs; mount one (mount -t bpf bpffs <dir>) or use a directory under %s", ErrNoBPFFS, root, bpffsMount)
		}
		if err := os.MkdirAll(bpffsMount, 0o755); err != nil {
			return fmt.Errorf("%w: %w", ErrNoBPFFS, err)
		}
		if err := unix.Mount("bpffs", bpffsMount, "bpf", 0, "mode=0700"); err != nil {
			return fmt.Errorf("%w: mount bpffs at %s: %w (the agent needs CAP_SYS_ADMIN, or mount it before starting)", ErrNoBPFFS, bpffsMount, err)
		}
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("create bpf-root %s: %w", root, err)
	}
	if ok, err := isBPFFS(root); err != nil || !ok {
		return fmt.Errorf("%w: bpf-root %s is not on a bpffs after mounting %s", ErrNoBPFFS, root, bpffsMount)
	}
	return nil
}
