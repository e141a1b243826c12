package cell

import (
	"go.uber.org/fx"
)

// Cell is one building block of a hive: a module, a constructor, an invoke, a
// config or a group of those.
type Cell interface {
	// registerFlags adds the cell's flags (and those of its children) to the
	// flag set. It runs before the command line is parsed.
	registerFlags(r *flagRegistry)

	// options turns the cell into fx options for the given module scope. It runs
	// after flags are parsed, so features can decide whether to contribute.
	options(h *Hive, s *scope) ([]fx.Option, error)

	// info describes the cell for introspection (the `hive` command).
	info(h *Hive) Info
}

// In marks a parameter struct whose fields are injected individually
// (alias of fx.In, so cells need not import fx).
type In = fx.In

// Out marks a result struct whose fields are provided individually, including
// into value groups (alias of fx.Out).
type Out = fx.Out

// scope is the module a cell is applied in.
type scope struct {
	id   string // innermost module id; "" at the root
	path []string
}

func (s *scope) child(id string) *scope {
	p := make([]string, len(s.path), len(s.path)+1)
	copy(p, s.path)
	return &scope{id: id, path: append(p, id)}
}

// group is a list of cells without a scope of its own.
type group []Cell

// Group bundles cells so they can be passed around as one. Unlike Module it
// introduces no scope: the cells belong to the enclosing module.
func Group(cells ...Cell) Cell { return group(cells) }

func (g group) registerFlags(r *flagRegistry) {
	for _, c := range g {
		c.registerFlags(r)
	}
}

func (g group) options(h *Hive, s *scope) ([]fx.Option, error) {
	var opts []fx.Option
	for _, c := range g {
		o, err := c.options(h, s)
		if err != nil {
			return nil, err
		}
		opts = append(opts, o...)
	}
	return opts, nil
}

func (g group) info(h *Hive) Info {
	inf := Info{Kind: "group"}
	for _, c := range g {
		inf.Children = append(inf.Children, c.info(h))
	}
	return inf
}
