package cell

import (
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/pflag"
	"go.uber.org/fx"
)

// Validator is implemented by config structs that check their values beyond what
// the flag types check. A Validate error fails start-up; it should name the flag.
type Validator interface {
	Validate() error
}

type config[T any] struct {
	def T
}

// Config provides a configuration struct of type T to the hive. Every exported
// field becomes a flag: its name is the field name in kebab-case
// (EnableL2Announcements → enable-l2-announcements) unless the field has a
// `flag:"name"` tag, and its help text comes from a `help:"..."` tag. The value
// in def is the default.
//
// Supported field types: bool, string, int, int64, uint, uint16, uint32, uint64,
// float64, time.Duration, []string and map[string]string.
//
// Values come from the command line or from the config directory (--config-dir:
// one file per key, as a mounted ConfigMap looks); the command line wins. If T
// (or *T) implements Validator, Validate runs before anything is constructed.
func Config[T any](def T) Cell {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("cell.Config: %s is not a struct", t))
	}
	return &config[T]{def: def}
}

func (c *config[T]) registerFlags(r *flagRegistry) {
	target := new(T)
	*target = c.def
	r.values[c] = target
	v := reflect.ValueOf(target).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Tag.Get("flag")
		if name == "" {
			name = kebab(f.Name)
		}
		r.add(name, func(fs *pflag.FlagSet) {
			registerField(fs, name, f.Tag.Get("help"), v.Field(i).Addr().Interface(), t)
		})
	}
}

func registerField(fs *pflag.FlagSet, name, help string, p any, owner reflect.Type) {
	switch p := p.(type) {
	case *bool:
		fs.BoolVar(p, name, *p, help)
	case *string:
		fs.StringVar(p, name, *p, help)
	case *int:
		fs.IntVar(p, name, *p, help)
	case *int64:
		fs.Int64Var(p, name, *p, help)
	case *uint:
		fs.UintVar(p, name, *p, help)
	case *uint16:
		fs.Uint16Var(p, name, *p, help)
	case *uint32:
		fs.Uint32Var(p, name, *p, help)
	case *uint64:
		fs.Uint64Var(p, name, *p, help)
	case *float64:
		fs.Float64Var(p, name, *p, help)
	case *time.Duration:
		fs.DurationVar(p, name, *p, help)
	case *[]string:
		fs.StringSliceVar(p, name, *p, help)
	case *map[string]string:
		fs.StringToStringVar(p, name, *p, help)
	default:
		panic(fmt.Sprintf("cell.Config[%s]: field for flag %q has unsupported type %T", owner, name, p))
	}
}

func (c *config[T]) options(h *Hive, s *scope) ([]fx.Option, error) {
	target, ok := h.flags.values[c].(*T)
	if !ok {
		return nil, fmt.Errorf("cell.Config[%s]: flags were not registered before populate", reflect.TypeFor[T]())
	}
	cfg := *target
	if err := validate(&cfg); err != nil {
		where := "root scope"
		if s.id != "" {
			where = fmt.Sprintf("module %q", s.id)
		}
		return nil, fmt.Errorf("invalid configuration of %s: %w", where, err)
	}
	return []fx.Option{fx.Supply(cfg)}, nil
}

func validate[T any](cfg *T) error {
	if v, ok := any(cfg).(Validator); ok {
		return v.Validate()
	}
	if v, ok := any(*cfg).(Validator); ok {
		return v.Validate()
	}
	return nil
}

func (c *config[T]) info(h *Hive) Info {
	inf := Info{Kind: "config", Outputs: []string{reflect.TypeFor[T]().String()}}
	t := reflect.TypeFor[T]()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Tag.Get("flag")
		if name == "" {
			name = kebab(f.Name)
		}
		inf.Flags = append(inf.Flags, name)
	}
	return inf
}

// kebab turns a Go field name into a flag name: EnableL2Announcements →
// enable-l2-announcements, BPFRoot → bpf-root, KubeProxyReplacement →
// kube-proxy-replacement. A word boundary is a lower-case letter or digit
// followed by an upper-case letter, or the last capital of an acronym that is
// followed by a lower-case letter.
func kebab(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('-')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
