// Package statedir is the agent's state directory: where cells persist what
// must survive an agent restart (IP allocations, endpoints), as Cilium keeps
// its state under --state-dir.
package statedir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hivenet/hivenet/cells/cell"
)

// Config is the state directory's configuration.
type Config struct {
	StateDir string `help:"Directory for state that survives agent restarts (allocations, endpoints)"`
}

// Dir is the state directory's path.
type Dir string

// Path joins elem to the directory.
func (d Dir) Path(elem ...string) string {
	return filepath.Join(append([]string{string(d)}, elem...)...)
}

// Cell provides Dir.
var Cell = cell.Module("state-dir", "Directory for state that survives restarts",
	cell.Config(Config{StateDir: "/var/run/hivenet/state"}),
	cell.Provide(func(c Config) (Dir, error) {
		if c.StateDir == "" {
			return "", errors.New("--state-dir is empty")
		}
		return Dir(c.StateDir), nil
	}),
)

// WriteFileAtomic writes data to path so that a reader (or a restarted agent
// after a crash) sees either the old or the new content, never a torn one.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
