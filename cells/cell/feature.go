package cell

import (
	"github.com/spf13/pflag"
	"go.uber.org/fx"
)

type feature struct {
	flag, help string
	def        bool
	cells      []Cell
}

// Feature puts cells in the hive only when the boolean flag named flag is true
// (def is its default). A disabled feature's cells construct nothing, start
// nothing and register no tables; their flags are still declared so that a
// config directory holding them is not an error.
//
// Name the flag as Cilium does for the same feature: enable-l2-announcements,
// enable-wireguard, enable-egress-gateway.
func Feature(flag, help string, def bool, cells ...Cell) Cell {
	return &feature{flag: flag, help: help, def: def, cells: cells}
}

func (f *feature) registerFlags(r *flagRegistry) {
	enabled := new(bool)
	r.values[f] = enabled
	r.add(f.flag, func(fs *pflag.FlagSet) { fs.BoolVar(enabled, f.flag, f.def, f.help) })
	for _, c := range f.cells {
		c.registerFlags(r)
	}
}

func (f *feature) enabled(h *Hive) bool {
	p, _ := h.flags.values[f].(*bool)
	return p != nil && *p
}

func (f *feature) options(h *Hive, s *scope) ([]fx.Option, error) {
	on := f.enabled(h)
	h.features = append(h.features, FeatureState{Flag: f.flag, Enabled: on})
	if !on {
		return nil, nil
	}
	return group(f.cells).options(h, s)
}

func (f *feature) info(h *Hive) Info {
	on := h.flags != nil && f.enabled(h)
	inf := Info{Kind: "feature", ID: f.flag, Enabled: &on}
	for _, c := range f.cells {
		inf.Children = append(inf.Children, c.info(h))
	}
	return inf
}

// FeatureState says whether a feature switch is on, for status output.
type FeatureState struct {
	Flag    string `json:"flag"`
	Enabled bool   `json:"enabled"`
}
