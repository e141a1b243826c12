package cell

import (
	"strconv"

	"go.uber.org/fx"
)

type invoker struct{ fns []any }

// Invoke registers functions that run while the hive is populated, after their
// parameters have been constructed. Use it to make a module's objects come into
// existence (constructors run only when something depends on them) and to
// register lifecycle hooks and jobs.
func Invoke(fns ...any) Cell { return &invoker{fns: checkFuncs("Invoke", fns)} }

func (i *invoker) registerFlags(*flagRegistry) {}

func (i *invoker) options(h *Hive, s *scope) ([]fx.Option, error) {
	opts := make([]fx.Option, 0, len(i.fns))
	for _, fn := range i.fns {
		opts = append(opts, fx.Invoke(wrapErrors(fn, s.id, "invoke")))
	}
	return opts, nil
}

func (i *invoker) info(*Hive) Info {
	inf := Info{Kind: "invoke"}
	for _, fn := range i.fns {
		inf.Funcs = append(inf.Funcs, funcName(fn))
	}
	return inf
}

type decorator struct {
	fn    any
	cells []Cell
}

// Decorate wraps objects for the given cells only: fn takes the object as it is
// provided and returns the replacement the cells see. Typical use is to wrap an
// interface with instrumentation or to substitute a test double in one module.
func Decorate(fn any, cells ...Cell) Cell {
	checkFuncs("Decorate", []any{fn})
	return &decorator{fn: fn, cells: cells}
}

func (d *decorator) registerFlags(r *flagRegistry) {
	for _, c := range d.cells {
		c.registerFlags(r)
	}
}

func (d *decorator) options(h *Hive, s *scope) ([]fx.Option, error) {
	// fx decorations apply to a module; an anonymous fx module gives the
	// decorated cells their own decoration scope without a new cell scope.
	opts := []fx.Option{fx.Decorate(wrapErrors(d.fn, s.id, "decorator"))}
	for _, c := range d.cells {
		o, err := c.options(h, s)
		if err != nil {
			return nil, err
		}
		opts = append(opts, o...)
	}
	h.decorators++
	return []fx.Option{fx.Module(fmtDecoratorName(h.decorators), opts...)}, nil
}

func fmtDecoratorName(n int) string { return "decorated-" + strconv.Itoa(n) }

func (d *decorator) info(h *Hive) Info {
	inf := Info{Kind: "decorate", Funcs: []string{funcName(d.fn)}}
	for _, c := range d.cells {
		inf.Children = append(inf.Children, c.info(h))
	}
	return inf
}
