package cell

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"

	"go.uber.org/fx"
)

type provider struct {
	ctors   []any
	private bool
}

// Provide registers constructors whose results are visible to the whole hive.
// A constructor is a function whose parameters are its dependencies and whose
// results are what it provides, optionally followed by an error. Constructors
// only validate and allocate; anything that does I/O or starts goroutines goes in
// a Lifecycle hook or a Job.
func Provide(ctors ...any) Cell { return &provider{ctors: checkFuncs("Provide", ctors)} }

// ProvidePrivate registers constructors whose results are visible only inside
// the enclosing module and its sub-modules.
func ProvidePrivate(ctors ...any) Cell {
	return &provider{ctors: checkFuncs("ProvidePrivate", ctors), private: true}
}

func checkFuncs(what string, fns []any) []any {
	for _, f := range fns {
		if reflect.TypeOf(f).Kind() != reflect.Func {
			panic(fmt.Sprintf("cell.%s: %T is not a function", what, f))
		}
	}
	return fns
}

func (p *provider) registerFlags(*flagRegistry) {}

func (p *provider) options(h *Hive, s *scope) ([]fx.Option, error) {
	opts := make([]fx.Option, 0, len(p.ctors))
	for _, c := range p.ctors {
		wrapped := wrapErrors(c, s.id, "constructor")
		if p.private {
			opts = append(opts, fx.Provide(fx.Private, wrapped))
		} else {
			opts = append(opts, fx.Provide(wrapped))
		}
	}
	return opts, nil
}

func (p *provider) info(*Hive) Info {
	kind := "provide"
	if p.private {
		kind = "provide-private"
	}
	inf := Info{Kind: kind}
	for _, c := range p.ctors {
		inf.Funcs = append(inf.Funcs, funcName(c))
		t := reflect.TypeOf(c)
		for i := range t.NumOut() {
			if o := t.Out(i); o != errorType {
				inf.Outputs = append(inf.Outputs, o.String())
			}
		}
	}
	return inf
}

var errorType = reflect.TypeFor[error]()

// wrapErrors returns fn with the same signature, whose error result (if it has
// one) names the module and the function, so a failing constructor or invoke
// tells the operator where to look. Runs once per function at start-up.
func wrapErrors(fn any, moduleID, what string) any {
	t := reflect.TypeOf(fn)
	if t.NumOut() == 0 || t.Out(t.NumOut()-1) != errorType {
		return fn
	}
	name := funcName(fn)
	v := reflect.ValueOf(fn)
	where := "the root scope"
	if moduleID != "" {
		where = fmt.Sprintf("module %q", moduleID)
	}
	return reflect.MakeFunc(t, func(args []reflect.Value) []reflect.Value {
		out := v.Call(args)
		if errV := out[len(out)-1]; !errV.IsNil() {
			err := fmt.Errorf("%s: %s %s: %w", where, what, name, errV.Interface().(error))
			out[len(out)-1] = reflect.ValueOf(&err).Elem()
		}
		return out
	}).Interface()
}

func funcName(fn any) string {
	f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	if f == nil {
		return fmt.Sprintf("%T", fn)
	}
	name := f.Name()
	// Keep "pkg.Func" out of "github.com/x/y/pkg.Func".
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	return name
}
