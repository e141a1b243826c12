package cell

import (
	"fmt"
	"log/slog"
	"regexp"

	"go.uber.org/fx"
)

var moduleIDRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

type module struct {
	id, title string
	cells     []Cell
}

// Module is a named scope of cells. The id is short, lower-case and unique in the
// hive ("statedb", "l2-announcer"); the title says in a few words what it does.
//
// Inside a module, *slog.Logger carries the module id, Health reports under the
// module's id, Lifecycle hooks and Jobs are attributed to the module. Provide
// exports to the whole hive; ProvidePrivate is visible to the module (and its
// sub-modules) only.
func Module(id, title string, cells ...Cell) Cell {
	if !moduleIDRe.MatchString(id) {
		panic(fmt.Sprintf("cell.Module: invalid id %q: want lower-case letters, digits and '-', starting with a letter", id))
	}
	return &module{id: id, title: title, cells: cells}
}

func (m *module) registerFlags(r *flagRegistry) {
	prev := r.module
	r.module = m.id
	for _, c := range m.cells {
		c.registerFlags(r)
	}
	r.module = prev
}

func (m *module) options(h *Hive, s *scope) ([]fx.Option, error) {
	ms := s.child(m.id)
	h.modules = append(h.modules, moduleRef{id: m.id, title: m.title, path: ms.path})
	opts := []fx.Option{
		// The decorators ignore their input and derive the module's objects from
		// the hive's roots, so they do not depend on each other's order.
		fx.Decorate(func(*slog.Logger) *slog.Logger { return h.moduleLogger(m.id) }),
		fx.Decorate(func(Health) Health { return h.health.scope(m.id) }),
		fx.Decorate(func(Lifecycle) Lifecycle { return h.lifecycle.forModule(m.id) }),
		fx.Decorate(func(Jobs) Jobs { return h.jobsFor(m.id) }),
	}
	for _, c := range m.cells {
		o, err := c.options(h, ms)
		if err != nil {
			return nil, err
		}
		opts = append(opts, o...)
	}
	return []fx.Option{fx.Module(m.id, opts...)}, nil
}

func (m *module) info(h *Hive) Info {
	inf := Info{Kind: "module", ID: m.id, Title: m.title}
	for _, c := range m.cells {
		inf.Children = append(inf.Children, c.info(h))
	}
	return inf
}

type moduleRef struct {
	id, title string
	path      []string
}
