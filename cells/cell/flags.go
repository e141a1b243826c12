package cell

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// moduleAnnotation marks each flag with the id of the module that declared it,
// so help output can group flags by module.
const moduleAnnotation = "hive-module"

type flagRegistry struct {
	fs     *pflag.FlagSet
	module string      // module whose cells are being registered
	values map[any]any // cell -> pointer to its parsed value, per hive
}

func (r *flagRegistry) add(name string, register func(*pflag.FlagSet)) {
	if r.fs.Lookup(name) != nil {
		panic(fmt.Sprintf("cell: flag --%s declared twice (second time in module %q)", name, r.module))
	}
	register(r.fs)
	f := r.fs.Lookup(name)
	mod := r.module
	if mod == "" {
		mod = "hive"
	}
	f.Annotations = map[string][]string{moduleAnnotation: {mod}}
}

// applyConfigDir sets every flag not given on the command line from the file of
// the same name in dir. Files whose name starts with '.' are skipped (a mounted
// ConfigMap has ..data and timestamped directories). A key that names no flag is
// logged as a warning: a ConfigMap shared by several versions may carry keys this
// binary does not know.
func applyConfigDir(fs *pflag.FlagSet, dir string, log *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("config directory %s: %w", dir, err)
	}
	for _, e := range entries {
		key := e.Name()
		if strings.HasPrefix(key, ".") {
			continue
		}
		path := filepath.Join(dir, key)
		st, err := os.Stat(path) // follows the ConfigMap's symlinks
		if err != nil {
			return fmt.Errorf("config directory %s: key %q: %w", dir, key, err)
		}
		if st.IsDir() {
			continue
		}
		f := fs.Lookup(key)
		if f == nil {
			log.Warn("Ignoring unknown key in config directory", "dir", dir, "key", key)
			continue
		}
		if f.Changed {
			continue // the command line wins
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("config directory %s: key %q: %w", dir, key, err)
		}
		val := strings.TrimSpace(string(b))
		if err := fs.Set(key, val); err != nil {
			return fmt.Errorf("config directory %s: invalid value %q for --%s: %w", dir, val, key, err)
		}
	}
	return nil
}

// flagsByModule groups the flags of fs by the module that declared them, module
// ids sorted with the hive's own flags first.
func flagsByModule(fs *pflag.FlagSet) ([]string, map[string]*pflag.FlagSet) {
	groups := map[string]*pflag.FlagSet{}
	fs.VisitAll(func(f *pflag.Flag) {
		mod := "general"
		if a := f.Annotations[moduleAnnotation]; len(a) > 0 {
			mod = a[0]
		}
		g, ok := groups[mod]
		if !ok {
			g = pflag.NewFlagSet(mod, pflag.ContinueOnError)
			groups[mod] = g
		}
		g.AddFlag(f)
	})
	ids := make([]string, 0, len(groups))
	for id := range groups {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if (ids[i] == "hive") != (ids[j] == "hive") {
			return ids[i] == "hive"
		}
		return ids[i] < ids[j]
	})
	return ids, groups
}
